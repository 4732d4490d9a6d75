"""A minimal single-frame DICOM dataset for the reader tests (test_io, test_dicom, test_fuzz)."""

from __future__ import annotations

from typing import Any


def dicom_dataset(shape: tuple[int, int], *, bits_stored: int = 12, signed: bool = False, bits_allocated: int = 16,
                  photometric: str = "MONOCHROME2", **tags: Any):
    """Secondary-capture dataset of ``shape`` without pixel data, Explicit VR Little
    Endian; ``tags`` set further attributes (``PixelSpacing=[...]``, ``Modality=...``)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(signed)
    for name, value in tags.items():
        setattr(ds, name, value)
    return ds
