"""Builds sinefit's optional compiled row pass (src/sinefit/_kernel.c); everything else is in pyproject.toml.

The extension is optional: without a C compiler the build skips it (with a warning) and sinefit
runs the same pass in numpy (sinefit.fastpass.available() says which one runs).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    def build_extensions(self):
        flags = ["/O2"] if self.compiler.compiler_type == "msvc" else ["-O3"]
        for ext in self.extensions:
            ext.extra_compile_args = flags
        super().build_extensions()


setup(
    ext_modules=[Extension("sinefit._kernel", ["src/sinefit/_kernel.c"], optional=True)],
    cmdclass={"build_ext": BuildExt},
)
