"""Fake but realistic identities (PHI) for the synthetic patients, made with Faker.

Everything here is invented; it exists so that de-identification has real-looking names, ids,
dates, addresses and physicians to remove from the headers, the private tags and the pixels.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import numpy as np
from faker import Faker

LOCALES = ("de_DE", "en_US", "fr_FR", "zh_CN", "it_IT")
_FOLD = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "ä": "AE", "ö": "OE", "ü": "UE"})


@dataclass(frozen=True)
class Identity:
    """One fake patient's identity and the context of their (one) breast ultrasound study."""

    name: str  # DICOM PN, e.g. "Müller^Anna" or "Zhang^Wei=张^伟"
    ascii_name: str  # upper-case ASCII "MUELLER^ANNA": folder names and burned text
    patient_id: str
    other_id: str
    birth_date: date
    sex: str
    address: str
    phone: str
    institution: str
    institution_address: str
    department: str
    referring: str
    performing: str
    operator: str
    accession: str
    study_time: datetime
    station: str
    serial: str
    native_name: str = ""  # the name in Chinese characters, e.g. "张伟" (zh_CN patients)

    @property
    def shown_name(self) -> str:
        """The name the scanner burns into the banner: in Chinese characters where the patient
        has them (header in GB18030), else ``ascii_name`` with spaces."""
        return self.native_name or self.ascii_name.replace("^", " ")

    @property
    def character_set(self) -> str:
        """The header's SpecificCharacterSet: GB18030 for Chinese names, else UTF-8."""
        return "GB18030" if self.native_name else "ISO_IR 192"

    @property
    def folder(self) -> str:
        """Export folder name, e.g. ``MUELLER^ANNA_1234567`` (as hospital exports name them)."""
        return f"{self.ascii_name}_{self.patient_id}"

    @property
    def age(self) -> str:
        """DICOM AS age at the study, e.g. ``047Y``."""
        years = (
            self.study_time.year
            - self.birth_date.year
            - (
                (self.study_time.month, self.study_time.day)
                < (self.birth_date.month, self.birth_date.day)
            )
        )
        return f"{years:03d}Y"


def ascii_fold(text: str) -> str:
    """Upper-case ASCII transliteration (German umlauts spelt out, other accents dropped)."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    kept = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in "^-"))
    return kept.upper()


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


def _pn(family: str, given: str, prefix: str = "") -> str:
    return f"{family}^{given}^^{prefix}".rstrip("^")


def _physician(fake: Faker) -> str:
    return _pn(fake.last_name(), fake.first_name(), "Dr.")


def make_identity(rng: np.random.Generator) -> Identity:
    """Draw one identity; the same generator state always gives the same identity."""
    locale = LOCALES[rng.integers(len(LOCALES))]
    fake = _faker(locale)
    fake.seed_instance(int(rng.integers(2**31)))
    sex = "F" if rng.random() < 0.97 else "M"
    given = fake.first_name_female() if sex == "F" else fake.first_name_male()
    family = fake.last_name()
    if locale == "zh_CN":
        roman_family, roman_given = fake.last_romanized_name(), fake.first_romanized_name()
        name = f"{_pn(roman_family, roman_given)}={_pn(family, given)}"
        ascii_name = ascii_fold(f"{roman_family}^{roman_given}")
    else:
        name = _pn(family, given)
        ascii_name = ascii_fold(f"{family}^{given}".replace(" ", "-"))
    study_time = datetime(2018, 1, 1, 7, 30) + timedelta(
        days=int(rng.integers(0, 7 * 365)),
        minutes=int(rng.integers(0, 10 * 60)),
        seconds=int(rng.integers(60)),
    )
    birth_date = study_time.date() - timedelta(days=int(rng.integers(25 * 365, 80 * 365)))
    if locale == "zh_CN":
        city = f"{fake.last_romanized_name()}zhou"
    elif locale == "it_IT":  # Faker's it_IT city() depends on PYTHONHASHSEED: not reproducible
        city = f"San {fake.first_name_male()}"
    else:
        city = fake.city()
    hospital = "People's Hospital" if locale == "zh_CN" else f"{fake.last_name()} Hospital"
    return Identity(
        name=name,
        ascii_name=ascii_name,
        patient_id=str(rng.integers(10**6, 10**7)),
        other_id=f"{fake.bothify('??').upper()}{rng.integers(10**8, 10**9)}",
        birth_date=birth_date,
        sex=sex,
        address=fake.address().replace("\n", ", "),
        phone=fake.phone_number()[:16],
        institution=f"{city} {hospital}",
        institution_address=fake.address().replace("\n", ", "),
        department="Breast Imaging",
        referring=_physician(fake),
        performing=_physician(fake),
        operator=_pn(fake.last_name(), fake.first_name()),
        accession=f"{study_time:%y%m%d}{rng.integers(10**4, 10**5)}",
        study_time=study_time,
        station=f"US-{ascii_fold(city)[:6]}-{rng.integers(1, 9)}",
        serial=str(rng.integers(10**7, 10**8)),
        native_name=f"{family}{given}" if locale == "zh_CN" else "",
    )


def banner_lines(
    shown_name: str,
    patient_id: str,
    birth_date: str,
    study_date: str,
    study_time: str,
    institution: str,
) -> tuple[str, str]:
    """The two lines a scanner burns above the image (DICOM DA/TM strings in, text out)."""
    shown_date = f"{study_date[:4]}-{study_date[4:6]}-{study_date[6:8]}"
    shown_time = f"{study_time[:2]}:{study_time[2:4]}:{study_time[4:6]}"
    dob = f"{birth_date[:4]}-{birth_date[4:6]}-{birth_date[6:8]}"
    place = unicodedata.normalize("NFKD", institution).encode("ascii", "ignore").decode()
    return (
        f"{shown_name}  ID {patient_id}  DOB {dob}",
        f"{place}  {shown_date} {shown_time}",
    )
