"""Every exception the package defines is a `RemediationError`, so callers catch one class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import remediations
from remediations.core import errors
from remediations.core.errors import RemediationError


def package_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the package, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(remediations.__path__, "remediations."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == module.__name__):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_exception_of_the_package_is_a_remediation_error() -> None:
    found = package_exceptions()
    assert "remediations.core.errors.InvalidInput" in found  # the walk reached the package
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, RemediationError))
    assert not outside, (f"{outside}: subclass RemediationError (or the error of core/errors.py "
                         "it is a case of), so that callers can catch every error in one place")


def test_every_class_of_core_errors_is_a_remediation_error() -> None:
    classes = [c for c in vars(errors).values()
               if inspect.isclass(c) and c.__module__ == errors.__name__]
    assert classes and all(issubclass(c, RemediationError) for c in classes)
    assert all(c.__doc__ for c in classes), "one line saying what failed, for each"
