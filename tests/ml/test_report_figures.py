"""spineview.models.report_figures: valid PNGs of sensible size, atomic writes, no pyplot state."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot  # only to check that the module leaves pyplot's registry alone
import numpy as np
import pytest
from matplotlib.figure import Figure

from spineview.models import report_figures
from spineview.models.metrics import apply_temperature, binary_metrics, calibrate_probability
from spineview.models.report_figures import (
    misclassified_gallery,
    plot_confusion,
    plot_reliability,
    plot_roc,
    plot_training_curves,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HISTORY = {
    "loss": [0.69, 0.52, 0.43, 0.37, 0.33, 0.30],
    "val_loss": [0.70, 0.58, 0.49, 0.47, 0.50, 0.55],
    "accuracy": [0.55, 0.71, 0.79, 0.84, 0.87, 0.89],
    "val_accuracy": [0.52, 0.66, 0.75, 0.78, 0.77, 0.76],
}


def _read_png(path: Path) -> np.ndarray:
    """The image as (height, width, channels), after checking the PNG signature."""
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(str(path))
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return image


def _assert_size(image: np.ndarray, width: tuple[int, int], height: tuple[int, int]) -> None:
    assert width[0] <= image.shape[1] <= width[1], image.shape
    assert height[0] <= image.shape[0] <= height[1], image.shape


def _assert_not_blank(image: np.ndarray) -> None:
    assert float(image[:, :, :3].std()) > 0.02  # something was drawn on the white page


def _scores(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.25).astype(np.int64)
    logits = rng.normal(2.0 * labels - 1.2, 1.0)
    raw = apply_temperature(logits, 0.4)  # over-confident
    return labels, raw, calibrate_probability(raw, 2.5)


@pytest.fixture(autouse=True)
def _no_pyplot_figures() -> Iterator[None]:
    assert matplotlib.pyplot.get_fignums() == []
    yield
    assert matplotlib.pyplot.get_fignums() == []


def test_training_curves(tmp_path: Path) -> None:
    path = plot_training_curves(HISTORY, tmp_path / "curves.png")
    assert path == tmp_path / "curves.png"
    image = _read_png(path)
    _assert_size(image, (880, 920), (440, 460))
    _assert_not_blank(image)


@pytest.mark.parametrize(
    "history",
    [
        {},
        {"loss": [0.7, 0.5]},
        {"val_loss": [0.9, float("nan"), 0.4], "val_accuracy": [0.5, 0.6, 0.7]},
        {"loss": [], "accuracy": []},
        {"loss": list(np.linspace(1.0, 0.1, 120)), "val_loss": list(np.linspace(1.2, 0.3, 120))},
    ],
    ids=["empty", "train-loss-only", "validation-with-nan", "empty-lists", "long-run"],
)
def test_training_curves_tolerate_missing_keys(
    tmp_path: Path, history: dict[str, list[float]]
) -> None:
    _assert_size(_read_png(plot_training_curves(history, tmp_path / "c.png")), (880, 920), (0, 460))


def test_best_epoch_is_the_lowest_finite_validation_loss() -> None:
    best_epoch = report_figures._best_epoch
    assert best_epoch(np.array([0.9, np.nan, 0.4, 0.5])) == 3
    assert best_epoch(np.array([np.nan])) is None
    assert best_epoch(None) is None


def test_roc(tmp_path: Path) -> None:
    labels, raw, _ = _scores()
    image = _read_png(plot_roc(labels, raw, tmp_path / "roc.png"))
    _assert_size(image, (500, 700), (500, 650))
    _assert_not_blank(image)


def test_roc_with_one_class_explains_instead_of_failing(tmp_path: Path) -> None:
    image = _read_png(plot_roc(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.9]), tmp_path / "r.png"))
    _assert_not_blank(image)


def test_reliability(tmp_path: Path) -> None:
    labels, raw, calibrated = _scores()
    path = plot_reliability(labels, raw, calibrated, tmp_path / "rel.png", temperature=2.5)
    image = _read_png(path)
    _assert_size(image, (500, 800), (500, 800))
    _assert_not_blank(image)


def test_reliability_validates_its_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same length"):
        plot_reliability(np.array([0, 1]), np.array([0.2]), np.array([0.3]), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_confusion(tmp_path: Path) -> None:
    labels, raw, _ = _scores()
    matrix = binary_metrics(labels, raw)["confusion_matrix"]
    assert isinstance(matrix, list)
    image = _read_png(plot_confusion(matrix, ["normal/mild", "degenerative"], tmp_path / "cm.png"))
    _assert_size(image, (450, 900), (400, 700))
    _assert_not_blank(image)


def test_confusion_with_an_empty_row_and_three_classes(tmp_path: Path) -> None:
    plot_confusion(np.array([[0, 0], [3, 4]]), ["a", "b"], tmp_path / "empty-row.png")
    three = np.array([[5, 1, 0], [2, 7, 1], [0, 1, 9]])
    _read_png(plot_confusion(three, ["normal", "moderate", "severe"], tmp_path / "three.png"))


@pytest.mark.parametrize(
    ("matrix", "names", "message"),
    [
        (np.array([1, 2]), ["a", "b"], "square"),
        (np.array([[1, 2, 3], [4, 5, 6]]), ["a", "b"], "square"),
        (np.array([[1, -2], [3, 4]]), ["a", "b"], "non-negative"),
        (np.array([[1, 2], [3, 4]]), ["a"], "class names"),
    ],
)
def test_confusion_rejects_bad_input(
    tmp_path: Path, matrix: np.ndarray, names: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plot_confusion(matrix, names, tmp_path / "cm.png")


@pytest.mark.parametrize("count", [0, 1, 13])
def test_misclassified_gallery(tmp_path: Path, count: int) -> None:
    rng = np.random.default_rng(count)
    shapes = [(64, 64), (48, 80), (32, 32, 1), (40, 40, 3)]
    images = [rng.random(shapes[i % len(shapes)]).astype(np.float32) for i in range(count)]
    titles = [f"true degenerative, p=0.{i:02d} · study 123 / inst {i}" for i in range(count)]
    image = _read_png(misclassified_gallery(images, titles, tmp_path / "gallery.png"))
    if count == 0:
        _assert_size(image, (200, 700), (80, 250))
    elif count == 1:
        _assert_size(image, (150, 600), (150, 450))
    else:  # 4 columns of readable captions, 4 rows
        _assert_size(image, (850, 1000), (1000, 1150))
    _assert_not_blank(image)


def test_gallery_copes_with_flat_and_non_finite_images_and_caps_its_size(tmp_path: Path) -> None:
    flat = np.full((16, 16), 7.0)
    holes = np.where(np.eye(16) > 0, np.nan, 1.0)
    many = [flat, holes, *[np.zeros((16, 16))] * 20]
    path = misclassified_gallery(many, ["t"] * len(many), tmp_path / "g.png", max_images=8)
    _assert_size(_read_png(path), (900, 1400), (300, 700))  # 8 images: 2 rows of 4


def test_gallery_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="titles"):
        misclassified_gallery([np.zeros((4, 4))], [], tmp_path / "g.png")
    with pytest.raises(ValueError, match="columns"):
        misclassified_gallery([np.zeros((4, 4))], ["x"], tmp_path / "g.png", columns=0)
    with pytest.raises(ValueError, match="2-D"):
        misclassified_gallery([np.zeros((4, 4, 2))], ["x"], tmp_path / "g.png")


def test_long_titles_are_wrapped_to_three_lines() -> None:
    title = "true degenerative, p=0.12 · study 1234567890 / inst 17 · series 99999 · extra words"
    wrapped = report_figures._wrap_title(title)
    lines = wrapped.split("\n")
    assert len(lines) == 3
    assert all(len(line) <= 30 for line in lines)
    assert lines[0] == "true degenerative, p=0.12"
    assert report_figures._wrap_title("a\nb") == "a\nb"


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "curves.png"
    plot_training_curves(HISTORY, target)
    before = target.read_bytes()
    plot_training_curves({"loss": [1.0, 0.5, 0.2]}, target)  # replaces the file
    assert target.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]

    def broken_savefig(self: Figure, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    kept = target.read_bytes()
    with pytest.raises(OSError, match="disk full"):
        plot_training_curves(HISTORY, target)
    assert target.read_bytes() == kept  # the old figure survives a failed write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]  # no temporary left


def test_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "report" / "figures" / "gallery.png"
    misclassified_gallery([], [], target)
    _read_png(target)


def test_figures_can_be_drawn_from_threads(tmp_path: Path) -> None:
    labels, raw, calibrated = _scores()
    jobs: list[Callable[[], object]] = [
        lambda: plot_training_curves(HISTORY, tmp_path / "t.png"),
        lambda: plot_roc(labels, raw, tmp_path / "r.png"),
        lambda: plot_reliability(labels, raw, calibrated, tmp_path / "c.png"),
        lambda: misclassified_gallery([np.eye(8)] * 3, ["a", "b", "c"], tmp_path / "g.png"),
    ]
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    for name in ("t", "r", "c", "g"):
        _read_png(tmp_path / f"{name}.png")
