"""Identifiers planted in DICOM headers: the Basic Application Level Confidentiality Profile.

:func:`plant_headers` writes a recognisable value into every attribute of PS3.15 Annex E,
Table E.1-1 (:data:`CONFIDENTIALITY_PROFILE`) whose VR can hold one: the patient's name,
MRN and birth date, a distinct date in other dates, and a token ``PHI<gggg><eeee>P<n>``
naming the tag in text attributes; plus two identifying sequences and a private element.
Values the SUV conversion, the series assembly or the index read are left as they are
(:data:`KEPT`, and every date a file already has: the scan dates), as is the pixel data.
Used by :mod:`nethelpers.demo.variants.phi`.

The tag list is PS3.15 2024b Annex E, Table E.1-1 (all 561 single-tag rows; the repeating
groups 50xx and 60xx are left out), as transcribed in KitwareMedical/dicom-anonymizer
(``dicomanonymizer/dicom_anonymization_databases/dicomfields_2024b.py``); the keyword and VR
of each tag come from pydicom's data dictionary.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.datadict import dictionary_keyword, dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.filewriter import write_data_element
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

__all__ = ["CONFIDENTIALITY_PROFILE", "KEPT", "PLANTED_VRS", "Identity", "header_template",
           "header_values", "plant_headers"]

#: PS3.15 Annex E Table E.1-1 (2024b): every single-tag attribute of the Basic Application
#: Level Confidentiality Profile, ``group << 16 | element``.
CONFIDENTIALITY_PROFILE: tuple[int, ...] = (
    0x00001000, 0x00080012, 0x00080013, 0x00080015, 0x00080020, 0x00080021, 0x00080022, 0x00080023,
    0x00080024, 0x00080025, 0x0008002A, 0x00080030, 0x00080031, 0x00080032, 0x00080033, 0x00080034,
    0x00080035, 0x00080050, 0x00080054, 0x00080055, 0x00080080, 0x00080081, 0x00080082, 0x00080090,
    0x00080092, 0x00080094, 0x00080096, 0x0008009C, 0x0008009D, 0x00080106, 0x00080107, 0x00080201,
    0x00081000, 0x00081010, 0x00081030, 0x0008103E, 0x00081040, 0x00081041, 0x00081048, 0x00081049,
    0x00081050, 0x00081052, 0x00081060, 0x00081062, 0x00081070, 0x00081072, 0x00081080, 0x00081084,
    0x00081088, 0x00081110, 0x00081111, 0x00081120, 0x00082111, 0x00084000, 0x00100010, 0x00100020,
    0x00100021, 0x00100030, 0x00100032, 0x00100040, 0x00100050, 0x00100101, 0x00100102, 0x00101000,
    0x00101001, 0x00101002, 0x00101005, 0x00101010, 0x00101020, 0x00101030, 0x00101040, 0x00101050,
    0x00101060, 0x00101080, 0x00101081, 0x00101090, 0x00101100, 0x00102000, 0x00102110, 0x00102150,
    0x00102152, 0x00102154, 0x00102155, 0x00102160, 0x00102180, 0x001021A0, 0x001021B0, 0x001021C0,
    0x001021D0, 0x001021F0, 0x00102203, 0x00102297, 0x00102299, 0x00104000, 0x00120010, 0x00120020,
    0x00120021, 0x00120022, 0x00120023, 0x00120030, 0x00120031, 0x00120032, 0x00120040, 0x00120041,
    0x00120042, 0x00120043, 0x00120050, 0x00120051, 0x00120055, 0x00120060, 0x00120071, 0x00120072,
    0x00120073, 0x00120081, 0x00120082, 0x00120086, 0x00120087, 0x0014407C, 0x0014407E, 0x0016002B,
    0x0016004B, 0x0016004D, 0x0016004E, 0x0016004F, 0x00160050, 0x00160051, 0x00160070, 0x00160071,
    0x00160072, 0x00160073, 0x00160074, 0x00160075, 0x00160076, 0x00160077, 0x00160078, 0x00160079,
    0x0016007A, 0x0016007B, 0x0016007C, 0x0016007D, 0x0016007E, 0x0016007F, 0x00160080, 0x00160081,
    0x00160082, 0x00160083, 0x00160084, 0x00160085, 0x00160086, 0x00160087, 0x00160088, 0x00160089,
    0x0016008A, 0x0016008B, 0x0016008C, 0x0016008D, 0x0016008E, 0x00180010, 0x00180027, 0x00180035,
    0x00181000, 0x00181004, 0x00181005, 0x00181007, 0x00181008, 0x00181009, 0x0018100A, 0x00181012,
    0x00181014, 0x00181030, 0x00181042, 0x00181043, 0x00181072, 0x00181073, 0x00181078, 0x00181079,
    0x001811BB, 0x00181200, 0x00181201, 0x00181202, 0x00181203, 0x00181204, 0x00181205, 0x00181400,
    0x00184000, 0x00185011, 0x0018700A, 0x0018700C, 0x0018700E, 0x00189074, 0x00189151, 0x00189185,
    0x00189367, 0x00189369, 0x0018936A, 0x00189371, 0x00189373, 0x0018937B, 0x0018937F, 0x00189424,
    0x00189516, 0x00189517, 0x00189623, 0x00189701, 0x00189804, 0x00189919, 0x00189937, 0x0018A002,
    0x0018A003, 0x00200010, 0x00200027, 0x00203401, 0x00203403, 0x00203405, 0x00203406, 0x00204000,
    0x00209158, 0x00284000, 0x00320012, 0x00320032, 0x00320033, 0x00320034, 0x00320035, 0x00321000,
    0x00321001, 0x00321010, 0x00321011, 0x00321020, 0x00321021, 0x00321030, 0x00321032, 0x00321033,
    0x00321040, 0x00321041, 0x00321050, 0x00321051, 0x00321060, 0x00321066, 0x00321067, 0x00321070,
    0x00324000, 0x00340001, 0x00340002, 0x00340005, 0x00340007, 0x00380004, 0x00380010, 0x00380011,
    0x00380014, 0x0038001A, 0x0038001B, 0x0038001C, 0x0038001D, 0x0038001E, 0x00380020, 0x00380021,
    0x00380030, 0x00380032, 0x00380040, 0x00380050, 0x00380060, 0x00380061, 0x00380062, 0x00380064,
    0x00380300, 0x00380400, 0x00380500, 0x00384000, 0x003A0314, 0x003A0329, 0x003A032B, 0x00400001,
    0x00400002, 0x00400003, 0x00400004, 0x00400005, 0x00400006, 0x00400007, 0x00400009, 0x0040000B,
    0x00400010, 0x00400011, 0x00400012, 0x00400241, 0x00400242, 0x00400243, 0x00400244, 0x00400245,
    0x00400250, 0x00400251, 0x00400253, 0x00400254, 0x00400275, 0x00400280, 0x00400310, 0x0040050A,
    0x00400512, 0x00400513, 0x0040051A, 0x00400551, 0x00400555, 0x00400562, 0x00400600, 0x00400602,
    0x00400610, 0x004006FA, 0x00401001, 0x00401002, 0x00401004, 0x00401005, 0x0040100A, 0x00401010,
    0x00401011, 0x00401101, 0x00401102, 0x00401103, 0x00401104, 0x00401400, 0x00402001, 0x00402004,
    0x00402005, 0x00402008, 0x00402009, 0x00402010, 0x00402011, 0x00402016, 0x00402017, 0x00402400,
    0x00403001, 0x00404005, 0x00404008, 0x00404010, 0x00404011, 0x00404025, 0x00404027, 0x00404028,
    0x00404030, 0x00404034, 0x00404035, 0x00404036, 0x00404037, 0x00404050, 0x00404051, 0x00404052,
    0x0040A023, 0x0040A024, 0x0040A027, 0x0040A030, 0x0040A032, 0x0040A033, 0x0040A073, 0x0040A075,
    0x0040A078, 0x0040A07A, 0x0040A07C, 0x0040A082, 0x0040A088, 0x0040A110, 0x0040A112, 0x0040A120,
    0x0040A121, 0x0040A122, 0x0040A123, 0x0040A13A, 0x0040A192, 0x0040A193, 0x0040A307, 0x0040A352,
    0x0040A353, 0x0040A354, 0x0040A358, 0x0040A730, 0x0040DB06, 0x0040DB07, 0x0040E004, 0x00420011,
    0x00440004, 0x0044000B, 0x00440010, 0x00440104, 0x00440105, 0x0050001B, 0x00500020, 0x00500021,
    0x00686226, 0x00686270, 0x006A0003, 0x006A0005, 0x006A0006, 0x00700001, 0x00700082, 0x00700083,
    0x00700084, 0x00700086, 0x0072000A, 0x0072005E, 0x0072005F, 0x00720061, 0x00720063, 0x00720065,
    0x00720066, 0x00720068, 0x0072006A, 0x0072006B, 0x0072006C, 0x0072006D, 0x0072006E, 0x00720070,
    0x00720071, 0x00741234, 0x00741236, 0x00880200, 0x00880904, 0x00880906, 0x00880910, 0x00880912,
    0x01000420, 0x04000105, 0x04000115, 0x04000310, 0x04000402, 0x04000403, 0x04000404, 0x04000550,
    0x04000551, 0x04000552, 0x04000561, 0x04000562, 0x04000563, 0x04000564, 0x04000565, 0x04000600,
    0x20300020, 0x21000040, 0x21000050, 0x21000070, 0x21000140, 0x22000002, 0x22000005, 0x30020121,
    0x30020123, 0x30060002, 0x30060004, 0x30060006, 0x30060008, 0x30060009, 0x30060026, 0x30060028,
    0x3006002D, 0x3006002E, 0x30060038, 0x3006004D, 0x3006004E, 0x30060085, 0x30060088, 0x300600A6,
    0x30080024, 0x30080025, 0x30080054, 0x30080056, 0x30080105, 0x30080162, 0x30080164, 0x30080166,
    0x30080168, 0x30080250, 0x30080251, 0x300A0002, 0x300A0003, 0x300A0004, 0x300A0006, 0x300A0007,
    0x300A000B, 0x300A000E, 0x300A0016, 0x300A0072, 0x300A00B2, 0x300A00C3, 0x300A00DD, 0x300A0196,
    0x300A01A6, 0x300A01B2, 0x300A0216, 0x300A022C, 0x300A022E, 0x300A02EB, 0x300A0608, 0x300A0611,
    0x300A0615, 0x300A0619, 0x300A0623, 0x300A062A, 0x300A0676, 0x300A067C, 0x300A067D, 0x300A0734,
    0x300A0736, 0x300A073A, 0x300A0741, 0x300A0742, 0x300A0760, 0x300A0783, 0x300A078E, 0x300A0792,
    0x300A0794, 0x300A079A, 0x300C0113, 0x300C0127, 0x300E0004, 0x300E0005, 0x300E0008, 0x3010000F,
    0x30100017, 0x3010001B, 0x3010002D, 0x30100033, 0x30100034, 0x30100035, 0x30100036, 0x30100037,
    0x30100038, 0x30100043, 0x3010004C, 0x3010004D, 0x30100054, 0x30100056, 0x3010005A, 0x3010005C,
    0x30100061, 0x30100077, 0x3010007A, 0x3010007B, 0x3010007F, 0x30100081, 0x30100085, 0x40000010,
    0x40004000, 0x40080040, 0x40080042, 0x40080100, 0x40080101, 0x40080102, 0x40080108, 0x40080109,
    0x4008010A, 0x4008010B, 0x4008010C, 0x40080111, 0x40080112, 0x40080113, 0x40080114, 0x40080115,
    0x40080118, 0x40080119, 0x4008011A, 0x40080200, 0x40080202, 0x40080300, 0x40084000, 0xFFFAFFFA,
    0xFFFCFFFC,
)

#: VRs that can hold a planted identifier (numbers, times, UIDs and binary VRs are left out).
PLANTED_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC", "UR", "AE", "CS", "DA"})

#: Profile attributes kept as they are: the SUV conversion reads them (dates and times that
#: are present are kept too: they are the scan dates, needles themselves).
KEPT = frozenset({"PatientSex", "TimezoneOffsetFromUTC"})

#: Identifying sequences added to every file: keyword -> (item keyword, VR).
SEQUENCES = {"OtherPatientIDsSequence": ("PatientID", "LO"),
             "RequestAttributesSequence": ("RequestedProcedureDescription", "LO")}

#: A private element in every file (a PACS-specific tag that still holds the MRN).
PRIVATE_GROUP, PRIVATE_CREATOR = 0x0011, "NETHELPERS PHI TEST"

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"})
#: Profile dates kept where a file has them (scan dates); the birth date is always planted.
_DATES = frozenset(t for t in CONFIDENTIALITY_PROFILE
                   if dictionary_VR(t) == "DA" and dictionary_keyword(t) != "PatientBirthDate")


@dataclass(frozen=True)
class Identity:
    """Who a demo patient is in the planted study.

    Attributes
    ----------
    patient_id : str
        The pseudonym of the study's tables (``P001``).
    number : int
        1, 2, ...: ends every token planted for this patient (``PHI00080080P1``).
    surname, given : str
        The name (PatientName ``surname^given``, and in the folder names).
    mrn : str
        The medical record number (PatientID, and in the patient's folder name).
    birth_date : datetime.date
        PatientBirthDate.
    """

    patient_id: str
    number: int
    surname: str
    given: str
    mrn: str
    birth_date: date

    @property
    def folder(self) -> str:
        """The patient's folder under ``dicom/``."""
        return f"{self.surname}_{self.given}_{self.mrn}"


def _token(tag: int, number: int, where: str = "P") -> str:
    return f"PHI{tag:08X}{where}{number}"


def _planted_date(tag: int, number: int) -> date:
    """A distinct date for a planted DA attribute (1930-2011: never a demo scan date)."""
    return date(1930, 1, 1) + timedelta(days=(tag * 7919 + number * 104729) % 30000)


def header_values(who: Identity) -> dict[int, tuple[str, str]]:
    """The value planted in each profile attribute: tag -> (VR, value).

    Parameters
    ----------
    who : Identity
        The patient.

    Returns
    -------
    dict
        Every :data:`CONFIDENTIALITY_PROFILE` attribute whose VR is in :data:`PLANTED_VRS`,
        except :data:`KEPT`: PatientName ``Surname^Given``, PatientID the MRN,
        PatientBirthDate the birth date, other dates a distinct date, text a token
        ``PHI<tag>P<n>``. Dates already present in a file are kept there (scan dates).
    """
    out: dict[int, tuple[str, str]] = {}
    for tag in CONFIDENTIALITY_PROFILE:
        vr, keyword = dictionary_VR(tag), dictionary_keyword(tag)
        if vr not in PLANTED_VRS or keyword in KEPT:
            continue
        if keyword == "PatientName":
            value = f"{who.surname}^{who.given}"
        elif keyword == "PatientID":
            value = who.mrn
        elif keyword == "PatientBirthDate":
            value = who.birth_date.strftime("%Y%m%d")
        elif vr == "DA":
            value = _planted_date(tag, who.number).strftime("%Y%m%d")
        else:
            value = _token(tag, who.number)
        out[tag] = (vr, value)
    return out


def header_template(who: Identity) -> Dataset:
    """The elements planted in every file of a patient (top level, sequences, private)."""
    ds = Dataset()
    for tag, (vr, value) in header_values(who).items():
        ds.add_new(tag, vr, value)
    for keyword, (item_keyword, vr) in SEQUENCES.items():
        item = Dataset()
        item.add_new(item_keyword, vr, _token(tag_for_keyword(keyword), who.number, "Q"))
        setattr(ds, keyword, Sequence([item]))
    ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True).add_new(
        0x01, "LO", f"PHIPRIVATE{who.mrn}")
    return ds


def _chunks(template: Dataset) -> dict[int, bytes]:
    """Each template element encoded once, as Explicit VR Little Endian bytes."""
    out = {}
    for elem in template:
        buffer = DicomBytesIO()
        buffer.is_little_endian, buffer.is_implicit_VR = True, False
        write_data_element(buffer, elem)
        out[elem.tag] = buffer.getvalue()
    return out


def _meta_end(data: bytes) -> tuple[int, str] | None:
    """Where the data set starts and the transfer syntax (None: not a plain Part 10 file)."""
    if data[128:132] != b"DICM" or data[132:136] != b"\x02\x00\x00\x00":
        return None
    end = 144 + struct.unpack_from("<I", data, 140)[0]
    pos, syntax = 144, ""
    while pos < end:
        group, element = struct.unpack_from("<HH", data, pos)
        vr = data[pos + 4:pos + 6].decode("ascii", "replace")
        if vr in _LONG_VRS:
            length, head = struct.unpack_from("<I", data, pos + 8)[0], 12
        else:
            length, head = struct.unpack_from("<H", data, pos + 6)[0], 8
        if (group, element) == (0x0002, 0x0010):
            syntax = data[pos + head:pos + head + length].decode("ascii").strip("\x00 ")
        pos += head + length
    return end, syntax


def _splice(data: bytes, start: int, chunks: dict[int, bytes]) -> tuple[bytes, dict[int, str]]:
    """The file with the template's encoded elements put in, in tag order.

    Top-level elements are located with pydicom's element generator (which walks sequences
    of undefined length); a date already present is kept (tag -> value returned).
    """
    fp = BytesIO(data)
    fp.seek(start)
    begins: list[tuple[int, int]] = []
    for raw in data_element_generator(fp, False, True, defer_size=256):
        begins.append((int(raw.tag), raw.value_tell - (12 if raw.VR in _LONG_VRS else 8)))
    ends = [b for _, b in begins[1:]] + [len(data)]
    present = {tag: data[b:e] for (tag, b), e in zip(begins, ends, strict=True)}
    kept: dict[int, str] = {}
    for tag in chunks:
        old = present.get(tag)
        if old is not None and tag in _DATES:
            value = old[8:].decode("ascii", "replace").strip("\x00 ")
            if value:
                kept[tag] = value
                continue
        present[tag] = chunks[tag]
    return data[:start] + b"".join(present[t] for t in sorted(present)), kept


def _plant_file(path: Path, template: Dataset, chunks: dict[int, bytes]) -> dict[int, str]:
    """Write the template's elements into one file; return the dates it keeps (tag -> value).

    A date already in the file (StudyDate, SeriesDate, ...) is a scan date that the SUV decay
    may need: it is kept, and is a needle itself. The birth date is always replaced.
    Explicit VR Little Endian files get the encoded elements spliced in (about 5 times
    faster than pydicom writing 350 more elements per file); others are written by pydicom.
    """
    data = path.read_bytes()
    meta = _meta_end(data)
    if meta is not None and meta[1] == ExplicitVRLittleEndian:
        out, kept = _splice(data, meta[0], chunks)
        path.write_bytes(out)
        return kept
    ds = pydicom.dcmread(path)
    kept = {}
    for elem in template:
        old = ds.get(elem.tag)
        if elem.tag in _DATES and old is not None and old.value:
            kept[elem.tag] = str(old.value)
        else:
            ds[elem.tag] = elem
    ds.save_as(path, enforce_file_format=True)
    return kept


def plant_headers(files: Iterable[Path], who: Identity) -> tuple[Dataset, dict[int, set[str]]]:
    """Plant one patient's identifiers in every file given.

    Parameters
    ----------
    files : iterable of pathlib.Path
        The patient's DICOM files (rewritten in place).
    who : Identity
        The patient.

    Returns
    -------
    pydicom.dataset.Dataset
        The planted elements (:func:`header_template`).
    dict
        The profile dates the files kept (tag -> the values found): the scan dates.
    """
    template = header_template(who)
    chunks = _chunks(template)
    kept: dict[int, set[str]] = {}
    for path in files:
        for tag, value in _plant_file(Path(path), template, chunks).items():
            kept.setdefault(tag, set()).add(value)
    return template, kept
