"""Build the compiled core and the native signer; all other metadata lives in pyproject.toml."""

import glob
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
        "lighterfast.core._core",
        ["src/lighterfast/core/_core.pyx"],
        depends=sorted(glob.glob("src/lighterfast/core/_core_*.pxi")),
        extra_compile_args=["-O3"] if os.name != "nt" else [],
    ),
    # Opt-in native signer: C header-only core (unsigned __int128, so gcc/clang only).
    Extension(
        "lighterfast.signing._native",
        ["src/lighterfast/signing/_native.pyx"],
        include_dirs=["src/lighterfast/signing"],
        depends=[
            "src/lighterfast/signing/_native_impl.h",
            *sorted(glob.glob("src/lighterfast/signing/_native_*.pxi")),
        ],
        extra_compile_args=["-O3"] if os.name != "nt" else [],
    ),
    # The local node's own verifier (same C header; the node never imports lighterfast.signing).
    Extension(
        "lighterfast.testnode._verify",
        ["src/lighterfast/testnode/_verify.pyx"],
        include_dirs=["src/lighterfast/signing", "src/lighterfast/testnode"],
        depends=[
            "src/lighterfast/signing/_native_impl.h",
            "src/lighterfast/testnode/_verify_impl.h",
        ],
        extra_compile_args=["-O3", "-Wno-unused-function"] if os.name != "nt" else [],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=DIRECTIVES,
        annotate=bool(os.environ.get("LIGHTERFAST_ANNOTATE")),
    )
)
