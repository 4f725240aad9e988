"""supportd: an e-mail technical-support desk daemon.

`__version__` is the one place the version is written: the package's metadata reads
it (setup.cfg), `supportd --version` prints it, the CHANGELOG's top heading names it,
and a release is tagged `v` + it (tests/unit/test_version.py holds them together).
"""

__version__ = "0.1.0"
