"""Build the compiled core only; all other metadata lives in pyproject.toml."""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}

extensions = [
    Extension(
        "lighterfast._core",
        ["src/lighterfast/_core.pyx"],
        extra_compile_args=["-O3"] if os.name != "nt" else [],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=DIRECTIVES,
        annotate=bool(os.environ.get("LIGHTERFAST_ANNOTATE")),
    )
)
