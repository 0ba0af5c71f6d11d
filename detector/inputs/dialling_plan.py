"""A country's dialling plan, as number normalisation needs it, from Google's ``phonenumbers``
metadata (data-contract.md, "Numbers").

The metadata is read once per country code (:func:`dialling_plan` is cached); the rows are then
normalised by Polars expressions built from these few parameters, never by a call into
``phonenumbers`` per value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class DiallingPlan:
    """What a number's text must be checked against to write it in E.164 digits."""

    #: The country calling code, digits (``"84"``).
    country_code: str
    #: The international (IDD) prefix as a regular expression (``00``; North America ``011``),
    #: or ``None`` where the metadata has none.
    international_prefix: str | None
    #: The trunk prefix of national numbers (``0``; North America ``1``; Russia ``8``), or ``None``.
    trunk_prefix: str | None
    #: Lengths a national significant number (the number after the country code) can have.
    national_lengths: tuple[int, ...]
    #: A regular expression every national significant number of the main region matches.
    national_pattern: str | None
    #: The main region's national lengths: a bare national number must have one of them.
    bare_lengths: tuple[int, ...] = ()

    @property
    def bare_national(self) -> bool:
        """Whether a national number is commonly written with neither trunk prefix nor country
        code (North America's ``650 555 1234``: its trunk prefix is its country code), or the
        plan has no trunk prefix at all: such a number gets the country code when it matches
        the national pattern. Elsewhere (``912345678`` in Vietnam) it is kept as written."""
        return self.national_pattern is not None and self.trunk_prefix in (None, self.country_code)


@functools.lru_cache(maxsize=None)
def dialling_plan(country_code: str) -> DiallingPlan:
    """The dialling plan of ``country_code`` (digits). A code shared by several regions (North
    America's ``1``) takes its main region's prefixes and pattern; the national lengths are those
    of every region.

    Raises :class:`ValueError` for a code no country has.
    """
    import phonenumbers
    from phonenumbers import PhoneMetadata

    code = int(country_code) if country_code.isdigit() else -1
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions:
        raise ValueError(f"country code {country_code!r} is no country's calling code")
    if regions[0] == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        metadata = [PhoneMetadata.metadata_for_nongeo_region(code)]
    else:
        metadata = [PhoneMetadata.metadata_for_region(r) for r in regions]
    main = metadata[0]
    lengths = sorted({n for m in metadata for n in m.general_desc.possible_length if n > 0})
    return DiallingPlan(
        country_code=str(code),
        international_prefix=main.international_prefix,
        trunk_prefix=main.national_prefix or None,
        national_lengths=tuple(lengths),
        national_pattern=main.general_desc.national_number_pattern,
        bare_lengths=tuple(n for n in main.general_desc.possible_length if n > 0),
    )
