"""The public names of radsurv.stats are the functions, whatever was imported before."""

import importlib
import inspect


def test_public_names_are_functions_even_after_submodule_imports():
    importlib.import_module("radsurv.stats.td_auc")
    importlib.import_module("radsurv.stats.icc")
    import radsurv.stats as S

    for name in S.__all__:
        obj = getattr(S, name)
        assert inspect.isfunction(obj) or inspect.isclass(obj), name
        assert obj.__doc__ and len(obj.__doc__) > 40, f"{name} needs a docstring"
