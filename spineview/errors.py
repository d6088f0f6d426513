"""The error family of spineview.

Every error a user can meet is a `SpineViewError` whose message names the file (or tag) and the
problem in words a user understands. Code below the UI raises these; the UI and the CLI catch
them at their boundary and show the message.
"""

from __future__ import annotations

from pathlib import Path


class SpineViewError(Exception):
    """Base class of every error spineview reports to a user."""

    kind = "error"


class DicomLoadError(SpineViewError):
    """A DICOM file (or folder) could not be read, or its pixels could not be decoded.

    `path` is the file concerned and `reason` the problem alone; `str(error)` joins both.
    """

    kind = "unreadable"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[DicomLoadError], tuple[Path, str]]:
        # Pickled back from a decoder process with both arguments (the default would pass
        # only the joined message).
        return type(self), (self.path, self.reason)


class NotDicomError(DicomLoadError):
    """The file is not DICOM at all (no preamble, no recognisable data elements)."""

    kind = "not DICOM"


class UnreadableDicomError(DicomLoadError):
    """The file looks like DICOM but its header cannot be parsed."""

    kind = "unreadable header"


class NotAnImageError(DicomLoadError):
    """A valid DICOM object without pixels (RT Plan, Structured Report, DICOMDIR, ...)."""

    kind = "not an image"


class MediaDirectoryFile(NotAnImageError):
    """A DICOMDIR: an index of other files, not an image (scanning honours it)."""

    kind = "DICOMDIR"


class MissingTagError(DicomLoadError):
    """An attribute that decoding needs (Rows, Columns, BitsAllocated, ...) is absent or invalid."""

    kind = "missing attribute"


class UnsupportedTransferSyntaxError(DicomLoadError):
    """The pixels are encoded in a transfer syntax no installed decoder handles."""

    kind = "no decoder"


class CorruptPixelDataError(DicomLoadError):
    """The pixel data is present but truncated or malformed."""

    kind = "corrupt pixel data"


class SafetyLimitError(DicomLoadError):
    """A declared size (matrix, frames, inflated payload) is beyond what spineview will allocate."""

    kind = "over a safety limit"


class NoImagesError(SpineViewError):
    """A folder holds no DICOM image that can be shown."""

    kind = "no images"


class DatasetError(SpineViewError):
    """A dataset (RSNA layout, class folders) or a split of it cannot be used as asked."""

    kind = "dataset"


class ModelLoadError(SpineViewError):
    """A model folder cannot be used: corrupt manifest or weights, wrong checksum, unknown
    architecture. Nothing from the folder has been executed."""

    kind = "model"


class TrainingError(SpineViewError):
    """Training cannot start or had to stop (the message says why and what to change)."""

    kind = "training"


class Cancelled(SpineViewError):
    """The user cancelled the work: not a failure (workers report it as cancelled)."""

    kind = "cancelled"


class ScanCancelled(Cancelled):
    """The user cancelled reading files and folders."""


class LoadCancelled(Cancelled):
    """The user cancelled loading a series."""


class InferenceCancelled(Cancelled):
    """The user cancelled a classification."""


class TrainingCancelled(Cancelled):
    """The user cancelled training (or its inspection); nothing was saved."""


def error_text(error: BaseException) -> str:
    """What the user reads about a failure: a SpineViewError's own message (it names the file
    and what to do), anything else marked as unexpected with its type."""
    if isinstance(error, SpineViewError):
        return str(error)
    return f"unexpected error: {type(error).__name__}: {error}"
