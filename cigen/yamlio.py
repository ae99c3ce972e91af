from __future__ import annotations

import functools
import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.representer import RoundTripRepresenter

# Strings that a YAML 1.1 reader (CircleCI, many linters) or a YAML 1.2 reader would not read
# back as the same string when written plain: booleans, nulls, numbers in any base, sexagesimal
# numbers, timestamps, and the merge/value keys.
_AMBIGUOUS = re.compile(
    r"""^(?:
        y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
      | ~|null|Null|NULL|
      | [-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)
      | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
      | [-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?
      | [-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)
      | [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
      | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?
      | <<|=
    )$""",
    re.VERBOSE,
)
# What a plain, quoted or literal scalar cannot hold as it is: control characters, BOM, and the
# YAML 1.1 line breaks (NEL, LS, PS) that readers fold away. Such strings are double-quoted and
# escaped.
# Written as the characters it finds, not as the complement of the printable ones: the same set,
# and compiled in a tenth of the time (a negated class of wide ranges costs ~5 ms on every run).
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


class _PlainKey(str):
    """The workflow's top-level `on:`, written plain: GitHub reads it as a string."""


class _Representer(RoundTripRepresenter):
    def represent_str(self, data: str) -> Any:
        if _UNPRINTABLE.search(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        if "\n" in data:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        if _AMBIGUOUS.match(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return self.represent_scalar("tag:yaml.org,2002:str", data)

    def represent_key(self, data: Any) -> Any:
        # `on:` is how every GitHub workflow spells its trigger key; GitHub reads it as a string.
        # Only there: an env name `on` nested anywhere else is quoted like any other YAML 1.1 bool.
        if type(data) is _PlainKey:
            return self.represent_scalar("tag:yaml.org,2002:str", data)
        return super().represent_key(data)


_Representer.add_representer(str, _Representer.represent_str)


@functools.lru_cache(maxsize=1)
def _dumper() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Representer = _Representer
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.default_flow_style = False
    return yaml


def dump(data: Any) -> str:
    """Serialize plain dicts/lists/strings to block-style YAML, byte-stable."""
    stream = io.StringIO()
    if isinstance(data, dict):
        data = plain_on(data)
    _dumper().dump(data, stream)
    return stream.getvalue()


def plain_on(mapping: dict[str, Any]) -> dict[str, Any]:
    """`mapping` with an `on` key written plain (GitHub's trigger key), not quoted as YAML 1.1's
    boolean would be."""
    if "on" not in mapping:
        return mapping
    return {(_PlainKey(k) if k == "on" else k): v for k, v in mapping.items()}


def quoted(text: str) -> str:
    """`text`, always dumped single-quoted: for values readers must not mistake (versions)."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    value: str = SingleQuotedScalarString(text)
    return value


class _Constructor(RoundTripConstructor):
    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any,
                          value: Any) -> bool:
        # ruamel's own check writes both values into its message: with aliases ("billion
        # laughs", measured only once the document is built) that text is exponentially large.
        if key in mapping:
            raise DuplicateKeyError("while constructing a mapping", node.start_mark,
                                    f'found duplicate key "{key}"', key_node.start_mark)
        return True


def load_rt(text: str) -> Any:
    """Parse YAML keeping positions (`.lc`) and comments; duplicate keys are errors."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml.load(text)


def load_plain(text: str) -> Any:
    """Parse YAML into plain Python values (for reading outputs back in checks and tests)."""
    return YAML(typ="safe", pure=True).load(text)
