"""Passes: registry listing and descriptions, parameters, errors, apply."""

import pytest

from olive_py_support import (assert_same_outputs, check_model_file, mlp_feeds, mlp_model,
                              require_libolive, write)

libolive = require_libolive()


def _all_params():
    """(pass name, parameter description) for every parameter of every registered pass."""
    return [(name, p) for name in libolive.list_passes()
            for p in libolive.describe_pass(name)["parameters"]]


def _param_of_type(kind):
    for name, p in _all_params():
        if p["type"] == kind:
            return name, p
    pytest.skip("no registered pass has a %s parameter" % kind)


def test_registry_lists_peephole():
    names = libolive.list_passes()
    assert "peephole" in names
    assert len(names) == len(set(names))


def test_describe_every_pass():
    for name in libolive.list_passes():
        d = libolive.describe_pass(name)
        assert d["name"] == name
        assert isinstance(d["summary"], str) and d["summary"]
        for p in d["parameters"]:
            assert p["type"] in ("bool", "int", "float", "string", "choice", "list")
            assert p["help"], "%s.%s has no help" % (name, p["name"])
            # The default is a value the pass accepts and reports back unchanged.
            with libolive.Pass(name) as ps:
                assert ps.get(p["name"]) == p["default"]
                ps.set(p["name"], p["default"])


def test_aliases_resolve_case_insensitively():
    for name in libolive.list_passes():
        for alias in libolive.describe_pass(name)["aliases"]:
            for spelling in (alias, alias.lower(), alias.upper()):
                with libolive.Pass(spelling) as p:
                    assert p.name == name
                assert libolive.describe_pass(spelling)["name"] == name


def test_unknown_pass_lists_known_ones():
    with pytest.raises(libolive.NotFound) as info:
        libolive.Pass("no_such_pass")
    assert "no_such_pass" in info.value.message
    for name in libolive.list_passes():
        assert name in info.value.message
    with pytest.raises(libolive.NotFound) as info:
        libolive.describe_pass("no_such_pass")
    for name in libolive.list_passes():
        assert name in info.value.message


def test_docstring_comes_from_the_registry():
    for name in libolive.list_passes():
        d = libolive.describe_pass(name)
        with libolive.Pass(name) as p:
            doc = p.__doc__
        assert d["summary"] in doc
        for param in d["parameters"]:
            assert param["name"] in doc and param["help"] in doc


def test_unknown_key_lists_valid_keys():
    name = libolive.list_passes()[0]
    with libolive.Pass(name) as p:
        with pytest.raises(libolive.NotFound) as info:
            p.set("no_such_key", "1")
        with pytest.raises(libolive.NotFound):
            p.get("no_such_key")
    assert "no_such_key" in info.value.message
    for param in libolive.describe_pass(name)["parameters"]:
        assert param["name"] in info.value.message


@pytest.mark.parametrize("kind,bad", [("int", "twelve"), ("float", "x1.5"), ("bool", "maybe"),
                                      ("choice", "not-a-choice")])
def test_bad_value_names_the_key_and_leaves_pass_unchanged(kind, bad):
    name, param = _param_of_type(kind)
    with libolive.Pass(name) as p:
        before = p.get(param["name"])
        with pytest.raises(libolive.InvalidArgument) as info:
            p.set(param["name"], bad)
        assert p.get(param["name"]) == before
    assert param["name"] in info.value.message


def test_bounds_are_enforced():
    for name, p in _all_params():
        if p["type"] == "int" and p.get("max") is not None and p["max"] < 2 ** 62:
            with libolive.Pass(name) as ps:
                with pytest.raises(libolive.InvalidArgument) as info:
                    ps.set(p["name"], int(p["max"]) + 1)
                assert p["name"] in info.value.message
                ps.set(p["name"], int(p["max"]))
                assert ps.get(p["name"]) == str(int(p["max"]))
            return
    pytest.skip("no int parameter with an upper bound")


def test_int_beyond_64_bits_is_refused_not_truncated():
    for name, p in _all_params():
        if p["type"] == "int":
            with libolive.Pass(name) as ps:
                before = ps.get(p["name"])
                # 2**64 + 1 would wrap to 1 if narrowed to int64 on the way to C.
                with pytest.raises(libolive.InvalidArgument) as info:
                    ps.set(p["name"], 2 ** 64 + 1)
                assert p["name"] in info.value.message
                assert ps.get(p["name"]) == before
            return
    pytest.skip("no int parameter registered")


def test_typed_setters_round_trip():
    done = 0
    for name, p in _all_params():
        with libolive.Pass(name) as ps:
            if p["type"] == "bool":
                ps.set(p["name"], True)
                assert ps.get(p["name"]) == "true"
                ps.set(p["name"], False)
                assert ps.get(p["name"]) == "false"
                done += 1
            elif p["type"] == "int":
                value = int(p["min"]) if p.get("min") is not None else 1
                ps.set(p["name"], value)
                assert ps.get(p["name"]) == str(value)
                done += 1
            elif p["type"] == "choice":
                ps.set(p["name"], p["choices"][-1])
                assert ps.get(p["name"]) == p["choices"][-1]
                done += 1
    if not done:
        pytest.skip("no bool, int or choice parameters registered")


def test_update_is_all_or_nothing():
    name, param = _param_of_type("bool")
    with libolive.Pass(name) as p:
        before = p.params
        flipped = "false" if before[param["name"]] == "true" else "true"
        with pytest.raises(libolive.NotFound):
            p.update("%s=%s no_such_key=1" % (param["name"], flipped))
        assert p.params == before
        p.update(**{param["name"]: flipped == "true"})
        assert p.get(param["name"]) == flipped


def test_constructor_parameters_and_failure():
    name, param = _param_of_type("bool")
    with libolive.Pass(name, **{param["name"]: True}) as p:
        assert p.get(param["name"]) == "true"
    with pytest.raises(libolive.NotFound):
        libolive.Pass(name, no_such_key=1)


def test_apply_peephole(tmp_path):
    src = write(mlp_model(), tmp_path / "src")
    with libolive.Model.load(src) as m, libolive.Pass("peephole") as p:
        before = m.node_count
        with p.apply(m) as out:
            assert m.node_count == before  # the input is not changed
            assert out.node_count < before
            assert "Identity" not in out.summary()["op_types"]
            out.validate()
            saved = str(tmp_path / "out" / "model.onnx")
            (tmp_path / "out").mkdir()
            out.save(saved)
    check_model_file(saved)
    assert_same_outputs(src, saved, mlp_feeds())


def test_parameters_reach_the_pass(tmp_path):
    # remove_noops is documented to remove Identity nodes; turned off, the Identity stays.
    names = [p["name"] for p in libolive.describe_pass("peephole")["parameters"]]
    if "remove_noops" not in names:
        pytest.skip("peephole has no remove_noops parameter")
    src = write(mlp_model(), tmp_path / "src")
    with libolive.Model.load(src) as m:
        with libolive.Pass("peephole", remove_noops=False) as p, p.apply(m) as out:
            assert out.summary()["op_types"].get("Identity") == 1
        with libolive.Engine() as engine:
            engine.add_pipeline("peephole remove_noops=false")
            with engine.run(m) as out:
                assert out.summary()["op_types"].get("Identity") == 1


def test_result_outlives_its_input(tmp_path):
    # A pass result shares weights with its input: closing the input first must be safe.
    src = write(mlp_model(), tmp_path / "src")
    m = libolive.Model.load(src)
    p = libolive.Pass("peephole")
    out = p.apply(m)
    m.close()
    p.close()
    (tmp_path / "out").mkdir()
    saved = str(tmp_path / "out" / "model.onnx")
    out.save(saved, external_data="never")
    out.close()
    assert_same_outputs(src, saved, mlp_feeds())


def test_apply_needs_a_model():
    with libolive.Pass("peephole") as p:
        with pytest.raises(TypeError):
            p.apply("model.onnx")


def test_session_params_tuning_records_inference_settings(tmp_path):
    pytest.importorskip("onnxruntime")
    src = write(mlp_model(), tmp_path / "src")
    with libolive.Model.load(src) as m:
        assert m.inference_settings is None
        with libolive.Pass("OrtSessionParamsTuning", intra_thread_num_list="1,2", execution_mode_list="ORT_SEQUENTIAL",
                           repeat=1) as p, p.apply(m) as out:
            inf = out.inference_settings
            assert m.inference_settings is None  # the input is not changed
            assert out.node_count == m.node_count
    assert inf["execution_provider"] == ["CPUExecutionProvider"]
    so = inf["session_options"]
    assert so["intra_op_num_threads"] in (1, 2) and so["execution_mode"] == 0 and so["graph_optimization_level"] == 99
