# The descriptor schema ships in the package as cigen.schemas (see pyproject.toml).
