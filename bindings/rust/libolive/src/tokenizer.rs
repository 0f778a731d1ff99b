//! Tokenizers: a Hugging Face tokenizer.json encoded and decoded by libolive, with the ids of
//! Hugging Face `tokenizers` for the same file and text.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::ptr::{self, NonNull};

use libolive_sys as sys;

use crate::cstr::{borrowed, path_to_c, to_c};
use crate::error::{check, Error, Result};

/// A tokenizer.json loaded by libolive, released when dropped.
///
/// Encoding and decoding take `&self` and may run on several threads at once; the setters take
/// `&mut self`.
pub struct Tokenizer {
    raw: NonNull<sys::olive_tokenizer>,
}

// SAFETY: the C tokenizer is read-only for encode/decode (documented thread-safe); the setters
// need `&mut self`, so Rust's borrow rules keep them apart from concurrent readers.
unsafe impl Send for Tokenizer {}
unsafe impl Sync for Tokenizer {}

/// One encoded sequence of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<i32>,
    /// Type (segment) ids: 0 for the first sequence, 1 for the pair, as the post-processor sets.
    pub type_ids: Vec<i32>,
    /// 1 for tokens, 0 for padding.
    pub attention_mask: Vec<i32>,
}

fn flag(on: bool, value: std::ffi::c_uint) -> std::ffi::c_uint {
    if on {
        value
    } else {
        0
    }
}

impl Tokenizer {
    /// Loads `path`: a tokenizer.json file or a folder holding one.
    ///
    /// Errors: [`NotFound`](crate::ErrorKind::NotFound), [`Format`](crate::ErrorKind::Format)
    /// naming the bad field, [`Unsupported`](crate::ErrorKind::Unsupported).
    pub fn load(path: impl AsRef<Path>) -> Result<Tokenizer> {
        let path = path_to_c(path.as_ref())?;
        let mut out = ptr::null_mut();
        // SAFETY: valid out-pointer and NUL-terminated path.
        check(unsafe { sys::olive_tokenizer_load(&mut out, path.as_ptr()) })?;
        NonNull::new(out)
            .map(|raw| Tokenizer { raw })
            .ok_or_else(|| Error::new(sys::OLIVE_EINTERNAL, "libolive returned no tokenizer"))
    }

    /// The ids of `text` (and `pair`), as `tokenizers`' `Tokenizer.encode(...).ids`.
    pub fn encode(
        &self,
        text: &str,
        pair: Option<&str>,
        add_special_tokens: bool,
    ) -> Result<Vec<i32>> {
        let mut out: *mut i32 = ptr::null_mut();
        let mut count = 0usize;
        let (pair_ptr, pair_len) =
            pair.map_or((ptr::null(), 0), |p| (p.as_ptr().cast::<c_char>(), p.len()));
        // SAFETY: the texts are passed with their lengths; out-pointers are valid.
        check(unsafe {
            sys::olive_tokenizer_encode(
                &mut out,
                &mut count,
                self.raw.as_ptr(),
                text.as_ptr().cast::<c_char>(),
                text.len(),
                pair_ptr,
                pair_len,
                flag(add_special_tokens, sys::OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS),
            )
        })?;
        if out.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: on success `out` holds `count` ids owned by the caller.
        let ids = unsafe { std::slice::from_raw_parts(out, count) }.to_vec();
        // SAFETY: allocated by libolive, released once.
        unsafe { sys::olive_free(out.cast::<c_void>()) };
        Ok(ids)
    }

    /// Encodes a batch (padding to the longest applies across it), as `encode_batch`.
    pub fn encode_batch(&self, texts: &[&str], add_special_tokens: bool) -> Result<Vec<Encoding>> {
        let ptrs: Vec<*const c_char> = texts.iter().map(|t| t.as_ptr().cast::<c_char>()).collect();
        let lens: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        let mut enc = ptr::null_mut();
        // SAFETY: arrays of `texts.len()` pointers and lengths; no pairs.
        check(unsafe {
            sys::olive_tokenizer_encode_batch(
                &mut enc,
                self.raw.as_ptr(),
                ptrs.as_ptr(),
                lens.as_ptr(),
                ptr::null(),
                ptr::null(),
                texts.len(),
                flag(add_special_tokens, sys::OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS),
            )
        })?;
        let read = |f: unsafe extern "C" fn(
            *const sys::olive_encoding,
            usize,
            *mut usize,
        ) -> *const i32,
                    i: usize| {
            let mut len = 0usize;
            // SAFETY: `enc` is live; the pointer is valid for `len` ids while it is.
            let p = unsafe { f(enc, i, &mut len) };
            if p.is_null() {
                Vec::new()
            } else {
                // SAFETY: see above.
                unsafe { std::slice::from_raw_parts(p, len) }.to_vec()
            }
        };
        // SAFETY: `enc` is the encoding just returned.
        let n = unsafe { sys::olive_encoding_count(enc) };
        let out = (0..n)
            .map(|i| Encoding {
                ids: read(sys::olive_encoding_ids, i),
                type_ids: read(sys::olive_encoding_type_ids, i),
                attention_mask: read(sys::olive_encoding_attention_mask, i),
            })
            .collect();
        // SAFETY: released once.
        unsafe { sys::olive_encoding_free(enc) };
        Ok(out)
    }

    /// The text of `ids`, as `tokenizers`' `decode` (ids that name no token are skipped).
    pub fn decode(&self, ids: &[i32], skip_special_tokens: bool) -> Result<String> {
        let mut out: *mut c_char = ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: `ids` is valid for its length; out-pointers are valid.
        check(unsafe {
            sys::olive_tokenizer_decode(
                &mut out,
                &mut len,
                self.raw.as_ptr(),
                ids.as_ptr(),
                ids.len(),
                flag(
                    skip_special_tokens,
                    sys::OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS,
                ),
            )
        })?;
        if out.is_null() {
            return Ok(String::new());
        }
        // SAFETY: `out` holds `len` bytes of UTF-8 owned by the caller.
        let text =
            String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(out.cast::<u8>(), len) })
                .into_owned();
        // SAFETY: released once.
        unsafe { sys::olive_free(out.cast::<c_void>()) };
        Ok(text)
    }

    /// The id of `token`, or None.
    pub fn token_to_id(&self, token: &str) -> Option<i32> {
        let token = to_c(token, "token").ok()?;
        let mut id = 0i32;
        // SAFETY: valid pointers for the call.
        let rc =
            unsafe { sys::olive_tokenizer_token_to_id(&mut id, self.raw.as_ptr(), token.as_ptr()) };
        (rc == sys::OLIVE_OK).then_some(id)
    }

    /// The text of token `id`, or None.
    pub fn id_to_token(&self, id: i32) -> Option<String> {
        // SAFETY: the result is borrowed from the live tokenizer and copied at once.
        unsafe { borrowed(sys::olive_tokenizer_id_to_token(self.raw.as_ptr(), id)) }
    }

    /// The vocabulary size, as `get_vocab_size(with_added_tokens)`.
    pub fn vocab_size(&self, with_added_tokens: bool) -> usize {
        // SAFETY: a live tokenizer.
        unsafe { sys::olive_tokenizer_vocab_size(self.raw.as_ptr(), i32::from(with_added_tokens)) }
    }

    /// Truncates every encoding to `max_length` ids (None turns truncation off). strategy:
    /// "longest_first", "only_first" or "only_second"; direction "right" or "left".
    pub fn set_truncation(
        &mut self,
        max_length: Option<usize>,
        strategy: &str,
        direction: &str,
    ) -> Result<()> {
        let strategy = to_c(strategy, "strategy")?;
        let direction = to_c(direction, "direction")?;
        let length = max_length.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        // SAFETY: valid pointers for the call.
        check(unsafe {
            sys::olive_tokenizer_set_truncation(
                self.raw.as_ptr(),
                length,
                strategy.as_ptr(),
                direction.as_ptr(),
            )
        })
    }

    /// Pads to `length` (Some(0): the longest of a batch; None turns padding off).
    pub fn set_padding(
        &mut self,
        length: Option<usize>,
        pad_to_multiple_of: u32,
        direction: &str,
    ) -> Result<()> {
        let direction = to_c(direction, "direction")?;
        let length = length.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        // SAFETY: valid pointers for the call.
        check(unsafe {
            sys::olive_tokenizer_set_padding(
                self.raw.as_ptr(),
                length,
                pad_to_multiple_of,
                direction.as_ptr(),
                ptr::null(),
            )
        })
    }
}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        // SAFETY: owned, released once.
        unsafe { sys::olive_tokenizer_free(self.raw.as_ptr()) }
    }
}
