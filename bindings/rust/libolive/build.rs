//! Puts the folder where libolive-sys found libolive.so into this package's binaries' run
//! path (tests and examples), since link arguments of a dependency's build script do not
//! reach them.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_OLIVE_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_OLIVE_LIB_DIR") {
        if !dir.is_empty() && !dir.contains(',') {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
