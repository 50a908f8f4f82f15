"""Series selectors for scraped samples: `name` or `name{label="value", ...}`.

A selector is read with prometheus_client's own exposition parser (a selector is the
first half of a sample line, so `<selector> 0` is a sample line), not a parser of our
own. It matches a sample when the names are equal and every label it lists has that
value (other labels may be anything). Equality is all a scrape source offers; PromQL's
`!=`, `=~`, functions and operators need a `kind: prometheus` source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Selector:
    name: str
    labels: Mapping[str, str]

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        return name == self.name and all(labels.get(k) == v for k, v in self.labels.items())


def parse_selector(text: str) -> Selector:
    """The Selector in `text`; ValueError quoting it when it is not `name` or `name{label="value",...}`."""
    if not isinstance(text, str) or len(re.sub(r"\{.*\}", "", text).split()) != 1 or "\n" in text or "#" in text:
        raise ValueError(f'{text!r} is not a selector like scorer_consumer_lag or name{{label="value"}}')
    try:
        samples = [s for family in text_string_to_metric_families(f"{text.strip()} 0\n") for s in family.samples]
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(
            f'{text!r} is not a selector like name{{label="value"}} ({exc}); a scrape source '
            "matches label values exactly: PromQL (!=, =~, functions) needs a prometheus source"
        ) from None
    if len(samples) != 1:
        raise ValueError(f"{text!r} is not one selector")
    return Selector(samples[0].name, MappingProxyType(dict(samples[0].labels)))
