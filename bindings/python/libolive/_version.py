"""Version of this Python package.

The package wraps the C ABI of the library with the same major version; it works with that
library at this minor version or later (the ABI only grows within a major version).
"""

PACKAGE_VERSION = "0.1.0"
