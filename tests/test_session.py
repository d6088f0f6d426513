"""The Qt-free session: what was opened, the decoded cache and its budget."""

from __future__ import annotations

import pytest

from spineview.dicom.load import new_series
from spineview.dicom.scan import ScanResult, scan_paths
from spineview.dicom.write import write_demo_study
from spineview.session import Session


@pytest.fixture(scope="module")
def demo_scan(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    folder = tmp_path_factory.mktemp("demo")
    write_demo_study(folder)
    return scan_paths([folder])


def test_opening_indexes_every_series_with_its_study(demo_scan: ScanResult) -> None:
    session = Session()
    series = session.opened(demo_scan)
    assert session.scan_result is demo_scan
    assert [info.key for info in series] == list(session.series_info)
    info, context = session.context(series[0].key)
    study = session.series_info[series[0].key][1]
    assert info is series[0]
    assert (context.study_uid, context.study_description) == (study.study_uid, study.description)
    with pytest.raises(KeyError):
        session.context("no such series")
    session.clear()
    assert session.scan_result is None and not session.series_info and not session.loaded


def test_the_cache_keeps_its_budget_and_never_a_half_decoded_series(demo_scan: ScanResult) -> None:
    session = Session()
    infos = session.opened(demo_scan)
    first, second, third = (new_series(info) for info in infos[:3])
    session.cache_bytes = first.volume.nbytes + second.volume.nbytes
    for info, series in zip(infos[:2], (first, second), strict=True):
        session.start_decoding(info.key, series)[:] = True  # every slice arrived
    assert list(session.loaded) == [infos[0].key, infos[1].key]
    assert session.cached(infos[0].key) is not None  # now the most recently used
    assert list(session.loaded) == [infos[1].key, infos[0].key]
    loaded = session.start_decoding(infos[2].key, third)  # over budget: the oldest goes
    assert not loaded.any() and infos[1].key not in session.loaded
    session.drop_unfinished(infos[2].key)  # a cancelled load is never shown later
    assert infos[2].key not in session.loaded
    session.drop_unfinished(infos[0].key)  # a complete one stays
    assert infos[0].key in session.loaded


def test_the_series_being_shown_stays_cached_whatever_its_size(demo_scan: ScanResult) -> None:
    session = Session(cache_bytes=1)
    info = session.opened(demo_scan)[0]
    session.start_decoding(info.key, new_series(info))
    assert list(session.loaded) == [info.key]


def test_an_unknown_series_is_not_cached() -> None:
    assert Session().cached("1.2.3") is None and not Session().knows("1.2.3")
