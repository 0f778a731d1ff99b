"""Passes (olive_pass) and the pass registry.

Everything this module says about a pass's parameters (names, types, defaults, bounds, help)
comes from the library's registry at run time, so it always matches the loaded library.
"""

import contextlib
import ctypes

from . import _ffi
from ._handle import Handle, option_text, take_json, value_text
from .errors import check
from .model import Model


def list_passes():
    """Names of the registered passes, in registry order."""
    n = _ffi.lib.olive_pass_registry_count()
    return [_ffi.decode(_ffi.lib.olive_pass_registry_name(i)) for i in range(n)]


def describe_pass(name):
    """The registry's description of a pass (by name or Olive alias) as a dict: name, aliases,
    summary and its parameters (name, type, default, bounds or choices, help).

    Raises NotFound for an unknown name; the message lists the known passes.
    """
    encoded = _ffi.encode(name)
    return take_json(lambda out: _ffi.lib.olive_pass_describe_json(out, encoded))


def _params_of(description):
    params = description.get("params", description.get("parameters", []))
    return params if isinstance(params, list) else []


def pass_doc(description):
    """A docstring for a pass, built from its registry description."""
    lines = [description.get("name", "?")]
    summary = description.get("summary")
    if summary:
        lines[0] += ": " + summary
    aliases = description.get("aliases") or []
    if aliases:
        lines.append("")
        lines.append("Aliases: " + ", ".join(aliases))
    params = _params_of(description)
    if params:
        lines.append("")
        lines.append("Parameters:")
    for p in params:
        head = "  %s (%s" % (p.get("name", "?"), p.get("type", "?"))
        if "default" in p:
            head += ", default %s" % (_shown(p["default"]),)
        head += ")"
        lines.append(head)
        if p.get("help"):
            lines.append("      " + p["help"])
        if p.get("choices"):
            choices = p["choices"]
            if isinstance(choices, list):
                choices = ", ".join(str(c) for c in choices)
            lines.append("      one of: %s" % choices)
        bounds = [k for k in ("min", "max") if p.get(k) is not None]
        if bounds:
            lines.append("      " + ", ".join("%s %s" % (k, _shown(p[k])) for k in bounds))
    return "\n".join(lines)


def _shown(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # JSON numbers arrive as floats; bounds of ints read as ints
    return '""' if value == "" else str(value)


class Pass(Handle):
    """One configured transformation, created by name (or Olive alias) from the registry.

    ``Pass("peephole")``; parameters as keyword arguments, or later with set()/update().
    Each instance's docstring (``p.__doc__``, ``inspect.getdoc(p)``) lists the pass's
    parameters as the registry describes them.
    """

    _free_name = "olive_pass_free"
    _owner = None  # the Engine a borrowed pass belongs to

    def __init__(self, name, **params):
        out = _ffi.PassPtr()
        check(_ffi.lib.olive_pass_new(ctypes.byref(out), _ffi.encode(name)))
        super().__init__(out)
        self._owner = None  # set for passes borrowed from an engine
        self._description = None
        try:
            self.__doc__ = pass_doc(self.describe())
            for key, value in params.items():
                self.set(key, value)
        except BaseException:
            self.close()
            raise

    @classmethod
    def _borrowed(cls, ptr, owner):
        """Wraps a pass that belongs to `owner` (an Engine): never freed here, and keeps the
        owner alive as long as the wrapper is used."""
        self = cls.__new__(cls)
        Handle.__init__(self, ptr)
        self._owner = owner
        self._description = None
        self.__doc__ = pass_doc(self.describe())
        return self

    def _free(self, ptr):
        if self._owner is None:  # a borrowed pass belongs to its engine
            super()._free(ptr)

    def _require(self):
        if self._owner is not None:
            self._owner._require()
        return super()._require()

    @contextlib.contextmanager
    def _use(self):
        # A borrowed pass lives as long as its engine: hold the engine for the call too.
        owner = self._owner
        if owner is None:
            with Handle._use(self) as ptr:
                yield ptr
        else:
            with owner._use(), Handle._use(self) as ptr:
                yield ptr

    @property
    def name(self):
        """The pass's registry name (an alias given to the constructor is resolved)."""
        with self._use() as ptr:
            return _ffi.decode(_ffi.lib.olive_pass_name(ptr))

    def describe(self):
        """The registry's description of this pass (see describe_pass)."""
        if self._description is None:
            self._description = describe_pass(self.name)
        return self._description

    def set(self, key, value):
        """Sets one parameter. bool, int and float values use the typed C setters (an int
        beyond 64 bits goes as text, for the library to refuse by name); lists and tuples
        become comma-separated text; anything else is passed as text. The value is
        checked against the parameter's type, bounds and choices; on failure the pass is
        unchanged.

        Raises InvalidArgument (bad value; the message names the key and what is accepted)
        or NotFound (unknown key; the message lists the valid keys).
        """
        k = _ffi.encode(key)
        with self._use() as ptr:
            if isinstance(value, bool):
                check(_ffi.lib.olive_pass_set_bool(ptr, k, 1 if value else 0))
            elif isinstance(value, int) and -2 ** 63 <= value < 2 ** 63:
                check(_ffi.lib.olive_pass_set_int(ptr, k, value))
            elif isinstance(value, float):
                check(_ffi.lib.olive_pass_set_float(ptr, k, value))
            else:
                check(_ffi.lib.olive_pass_set(ptr, k, _ffi.encode(value_text(value, key))))
        return self

    def update(self, settings=None, **params):
        """Sets several parameters at once, all or nothing: from a "key=value ..." string
        and/or keyword arguments."""
        text = option_text(settings, params)
        if text:
            with self._use() as ptr:
                check(_ffi.lib.olive_pass_set_many(ptr, _ffi.encode(text)))
        return self

    def get(self, key):
        """The current value of a parameter, in its text form ("true", "32", "a,b")."""
        value = ctypes.c_char_p()
        with self._use() as ptr:
            check(_ffi.lib.olive_pass_get(ptr, _ffi.encode(key), ctypes.byref(value)))
            return _ffi.decode(value.value)

    @property
    def params(self):
        """All parameters and their current values (text form), in registry order."""
        return {p["name"]: self.get(p["name"]) for p in _params_of(self.describe())}

    def apply(self, model):
        """Runs the pass on `model` and returns the result as a new Model (the input is not
        changed; unchanged weights are shared)."""
        if not isinstance(model, Model):
            raise TypeError("apply() needs a libolive.Model, not %s" % type(model).__name__)
        out = _ffi.ModelPtr()
        with self._use() as ptr, model._use() as model_ptr:
            check(_ffi.lib.olive_pass_apply(ctypes.byref(out), ptr, model_ptr))
        return Model(out)

    def __repr__(self):
        if self.closed:
            return "<libolive.Pass (closed)>"
        return "<libolive.Pass %s>" % self.name
