"""The header attributes spineview indexes, with the VR each is decoded as.

The header index reads only these (plus the pixel data's position), which is what makes it fast:
everything else in a header is skipped without being decoded.
"""

from __future__ import annotations

# tag -> (keyword, VR). The VR here is the dictionary VR: files that store an element as UN
# (or implicit VR files) are decoded with it.
INDEXED_TAGS: dict[int, tuple[str, str]] = {
    0x00020002: ("MediaStorageSOPClassUID", "UI"),
    0x00020010: ("TransferSyntaxUID", "UI"),
    0x00080005: ("SpecificCharacterSet", "CS"),
    0x00080008: ("ImageType", "CS"),
    0x00080016: ("SOPClassUID", "UI"),
    0x00080018: ("SOPInstanceUID", "UI"),
    0x00080020: ("StudyDate", "DA"),
    0x00080030: ("StudyTime", "TM"),
    0x00080060: ("Modality", "CS"),
    0x00081030: ("StudyDescription", "LO"),
    0x0008103E: ("SeriesDescription", "LO"),
    0x00100010: ("PatientName", "PN"),
    0x00100020: ("PatientID", "LO"),
    0x00180015: ("BodyPartExamined", "CS"),
    0x00180020: ("ScanningSequence", "CS"),
    0x00180021: ("SequenceVariant", "CS"),
    0x00180024: ("SequenceName", "SH"),
    0x00180050: ("SliceThickness", "DS"),
    0x00180080: ("RepetitionTime", "DS"),
    0x00180081: ("EchoTime", "DS"),
    0x00180082: ("InversionTime", "DS"),
    0x00180088: ("SpacingBetweenSlices", "DS"),
    0x00181030: ("ProtocolName", "LO"),
    0x00181060: ("TriggerTime", "DS"),
    0x0020000D: ("StudyInstanceUID", "UI"),
    0x0020000E: ("SeriesInstanceUID", "UI"),
    0x00200011: ("SeriesNumber", "IS"),
    0x00200012: ("AcquisitionNumber", "IS"),
    0x00200013: ("InstanceNumber", "IS"),
    0x00200032: ("ImagePositionPatient", "DS"),
    0x00200037: ("ImageOrientationPatient", "DS"),
    0x00200100: ("TemporalPositionIdentifier", "IS"),
    0x00201041: ("SliceLocation", "DS"),
    0x00280002: ("SamplesPerPixel", "US"),
    0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280008: ("NumberOfFrames", "IS"),
    0x00280010: ("Rows", "US"),
    0x00280011: ("Columns", "US"),
    0x00280030: ("PixelSpacing", "DS"),
    0x00280100: ("BitsAllocated", "US"),
    0x00280101: ("BitsStored", "US"),
    0x00280103: ("PixelRepresentation", "US"),
    0x00281050: ("WindowCenter", "DS"),
    0x00281051: ("WindowWidth", "DS"),
    0x00281055: ("WindowCenterWidthExplanation", "LO"),
    0x00281056: ("VOILUTFunction", "CS"),
    0x20500020: ("PresentationLUTShape", "CS"),
}

KEYWORD_TAGS: dict[str, int] = {keyword: tag for tag, (keyword, _) in INDEXED_TAGS.items()}

# Elements whose presence sends a file to the full pydicom reader (their content is nested).
SHARED_FUNCTIONAL_GROUPS = 0x52009229
PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230
DIRECTORY_RECORD_SEQUENCE = 0x00041220

PIXEL_DATA_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})

TEXT_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
