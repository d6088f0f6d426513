"""Background jobs: where Qt threads meet the DICOM and the ML code.

Each job's `signals` QObject lives in the GUI thread, so results reach widgets through queued
signals; jobs never touch widgets. Cancel is a `threading.Event` that the loaders check between
files. `JobRunner` owns the worker threads (long-lived Python threads, one per kind of work) and
waits for them on close.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
from PySide6.QtCore import QObject, Signal

from spineview.core.heatmap import HeatmapMethod
from spineview.core.levels import LevelMap
from spineview.core.presets import AUTO
from spineview.core.series import Series, StudyContext
from spineview.core.windowing import apply_preset
from spineview.dicom.decode import decode_frame
from spineview.dicom.decoder_pool import decoder_pool
from spineview.dicom.header import FileHeader
from spineview.dicom.index import SeriesInfo
from spineview.dicom.load import fill_series, new_series
from spineview.dicom.scan import ScanResult, scan_paths
from spineview.errors import Cancelled, SpineViewError
from spineview.ml.series_classification import classify_series
from spineview.models.grade_result import StudyGrades
from spineview.models.level_result import StudyLevels
from spineview.models.predictions import SeriesOutcome
from spineview.models.series_decision import HeaderFinding
from spineview.models.verdict import (
    DEFAULT_NEIGHBOURS,
)

if TYPE_CHECKING:
    from spineview.ml.gradcam import GradCam, HeatMap
    from spineview.ml.grade_inference import Grader
    from spineview.ml.grade_training import GradeTrainResult  # noqa: F401  (job result, UI type)
    from spineview.ml.inference import Classifier
    from spineview.ml.level_inference import LevelLocator
    from spineview.ml.level_training import LevelTrainResult  # noqa: F401  (job result, UI type)
    from spineview.models.level_dataset_check import GradeDatasetCheck, LevelDatasetCheck
    from spineview.models.training_plan import TrainConfig, TrainingPlan, TrainResult

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 96


PoolName = Literal["loads", "thumbnails", "inference", "training"]
"""The worker thread a job runs on. TensorFlow runs only on "inference" and "training": each
is one long-lived Python thread (see `PythonThreadPool`)."""


class JobSignals(QObject):
    progress = Signal(int, int)  # done, total
    finished = Signal(object)  # the job's result (the type its `work` returns)
    failed = Signal(object)  # the exception itself (`errors.error_text` says it in words)
    cancelled = Signal()
    ended = Signal(object)  # the job itself, after any of the three above (for the runner)


ResultT = TypeVar("ResultT")


class Job(Generic[ResultT]):
    """A cancellable unit of background work on the pool it declares (`pool`); subclasses
    implement `work()`, whose result `signals.finished` carries. A `Cancelled` error ends it
    as cancelled; any other exception is emitted as it is through `signals.failed`."""

    pool: ClassVar[PoolName] = "loads"

    def __init__(self) -> None:
        self.signals = JobSignals()
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    def work(self) -> ResultT:
        raise NotImplementedError

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.signals.ended.emit(self)

    def _run(self) -> None:
        try:
            result = self.work()
        except Cancelled:
            self.signals.cancelled.emit()
            return
        except Exception as error:  # the worker boundary: report, never kill the thread
            if not isinstance(error, SpineViewError):
                logger.exception("background job failed")
            self.signals.failed.emit(error)
            return
        if self.cancel_event.is_set():
            self.signals.cancelled.emit()
        else:
            self.signals.finished.emit(result)


class ScanSignals(JobSignals):
    preview = Signal(object, object)  # (float32 slice, FileHeader): the first image found


class ScanJob(Job[ScanResult]):
    """Index files/folders; show the first image found at once, before the scan ends."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self.signals: ScanSignals = ScanSignals()
        self.paths = list(paths)
        self._previewed = False

    def work(self) -> ScanResult:
        decoder_pool().warm_up()  # the decoder processes start while headers are read
        return scan_paths(
            self.paths,
            progress=self.signals.progress.emit,
            cancel=self.cancel_event,
            on_header=self._preview_first,
        )

    def _preview_first(self, header: FileHeader) -> None:
        if self._previewed:
            return
        self._previewed = True
        try:
            pixels = decode_frame(header, 0)
        except SpineViewError as error:
            logger.info("no preview: %s", error)
            self._previewed = False  # try the next image
            return
        self.signals.preview.emit(pixels, header)


class LoadSignals(JobSignals):
    started = Signal(object)  # Series with an all-NaN volume, filled while loading
    slice_loaded = Signal(int, int)  # slice index, slices decoded so far


class LoadSeriesJob(Job[Series]):
    def __init__(self, info: SeriesInfo, study: StudyContext) -> None:
        super().__init__()
        self.signals: LoadSignals = LoadSignals()
        self.info = info
        self.study = study

    def work(self) -> Series:
        series = new_series(self.info, study=self.study)
        self.signals.started.emit(series)
        fill_series(
            series,
            self.info,
            on_slice=self.signals.slice_loaded.emit,
            cancel=self.cancel_event,
        )
        return series


class ThumbnailSignals(JobSignals):
    thumbnail = Signal(str, object)  # series key, uint8 (h, w) image


class ThumbnailJob(Job[None]):
    """One small auto-windowed image per series (its middle slice), in list order. Series
    being loaded for a viewport are left out: their load's first slice, the middle one, gives
    their thumbnail (`ui.series_loader`), so no file is decoded twice."""

    pool: ClassVar[PoolName] = "thumbnails"

    def __init__(self, series: Sequence[SeriesInfo]) -> None:
        super().__init__()
        self.signals: ThumbnailSignals = ThumbnailSignals()
        self.series = list(series)

    def work(self) -> None:
        for done, info in enumerate(self.series, start=1):
            if self.cancel_event.is_set():
                break
            middle = info.slices[len(info.slices) // 2]
            try:
                pixels = decode_frame(middle.header, middle.frame)
            except SpineViewError as error:
                logger.info("no thumbnail: %s", error)
                continue
            self.signals.thumbnail.emit(info.key, make_thumbnail(pixels))
            self.signals.progress.emit(done, len(self.series))


def make_thumbnail(pixels: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Auto-windowed uint8 image no larger than size×size (block-averaged, aspect kept)."""
    finite = np.nan_to_num(pixels.astype(np.float32, copy=False))
    step = max(1, int(np.ceil(max(finite.shape) / size)))
    rows, cols = (finite.shape[0] // step) * step, (finite.shape[1] // step) * step
    if rows == 0 or cols == 0:
        return apply_preset(finite, AUTO.window_for(finite))
    reduced = finite[:rows, :cols].reshape(rows // step, step, cols // step, step).mean(axis=(1, 3))
    return apply_preset(reduced, AUTO.window_for(reduced))


class DemoStudyJob(Job[Path]):
    """Generate one synthetic lumbar study (RSNA layout) for `spineview --demo`."""

    def __init__(self, folder: Path, seed: int = 7) -> None:
        super().__init__()
        self.folder = folder
        self.seed = seed

    def work(self) -> Path:
        from spineview.data.synth import SynthOptions, synthesize

        options = SynthOptions(studies=1, seed=self.seed, size=320, difficulty=0.3)
        synthesize(self.folder, options, workers=1)
        return self.folder / "train_images"


ModelIdentity = tuple[Path, str]
"""A model folder and its weights' sha256: a model retrained in place is another model."""


@dataclass
class LoadedModel:
    """A model ready for the viewer: the classifier and its Grad-CAM explainer."""

    classifier: Classifier
    explainer: GradCam
    seconds: float

    @property
    def identity(self) -> ModelIdentity:
        return self.classifier.identity


class ModelLoadJob(Job[LoadedModel]):
    """Import TensorFlow (first time: seconds) and load a model folder, off the GUI thread."""

    pool: ClassVar[PoolName] = "inference"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def work(self) -> LoadedModel:
        from spineview.ml.architectures import import_keras
        from spineview.ml.gradcam import GradCam
        from spineview.ml.inference import Classifier

        started = time.perf_counter()
        with tensorflow_loading.during():
            import_keras()
            freeze_long_lived_objects()  # before the GUI thread's next full collection
            classifier = Classifier.load(self.folder)
            classifier.warm_up()
            explainer = GradCam(classifier)
            freeze_long_lived_objects()
        return LoadedModel(classifier, explainer, time.perf_counter() - started)


@dataclass(kw_only=True)
class SeriesClassification(SeriesOutcome):
    """The viewer's result for one series and one model; the viewer forces a declined one
    when the user asks for the verdict anyway."""

    series_key: str
    model_identity: ModelIdentity


class ClassifyJob(Job[SeriesClassification]):
    """Classify every slice of a loaded series and decide whether its verdict may be shown;
    progress per batch, cancel between batches."""

    pool: ClassVar[PoolName] = "inference"

    def __init__(
        self,
        classifier: Classifier,
        series: Series,
        series_key: str,
        findings: Sequence[HeaderFinding] = (),
        neighbours: int = DEFAULT_NEIGHBOURS,
    ) -> None:
        super().__init__()
        self.classifier = classifier
        self.series = series
        self.series_key = series_key
        self.findings = list(findings)
        self.neighbours = neighbours

    def work(self) -> SeriesClassification:
        outcome = classify_series(
            self.classifier,
            iter(self.series.volume),
            self.series.n_slices,
            positions=self.series.slice_distances(),
            findings=self.findings,
            neighbours=self.neighbours,
            progress=self.signals.progress.emit,
            cancel=self.cancel_event,
        )
        return SeriesClassification(
            **vars(outcome), series_key=self.series_key, model_identity=self.classifier.identity
        )


@dataclass(frozen=True)
class HeatmapRequest:
    """Which heatmap: the cache key of the viewer's Grad-CAM cache."""

    series_key: str
    model_identity: ModelIdentity
    index: int
    method: HeatmapMethod
    target: str
    """"positive" or "negative": the class the map explains."""


@dataclass
class HeatmapResult:
    request: HeatmapRequest
    heatmap: HeatMap


class HeatmapJob(Job[HeatmapResult]):
    """Grad-CAM (or Grad-CAM++) of one slice."""

    pool: ClassVar[PoolName] = "inference"

    def __init__(self, explainer: GradCam, pixels: np.ndarray, request: HeatmapRequest) -> None:
        super().__init__()
        self.explainer = explainer
        self.pixels = pixels
        self.request = request

    def work(self) -> HeatmapResult:
        target: Any = self.request.target
        heatmap = self.explainer.compute(self.pixels, method=self.request.method, target=target)
        return HeatmapResult(self.request, heatmap)


class LocateLevelsJob(Job[StudyLevels]):
    """Find a study's disc levels on one of its sagittal series: decode it, load the level
    model (kept for the next study: the inference thread is the only one that touches it)."""

    pool: ClassVar[PoolName] = "inference"
    _locators: ClassVar[dict[ModelIdentity, LevelLocator]] = {}

    def __init__(self, info: SeriesInfo, model: ModelIdentity) -> None:
        super().__init__()
        self.info = info
        self.model = model

    def work(self) -> StudyLevels:
        series = new_series(self.info)
        fill_series(series, self.info, cancel=self.cancel_event)
        locator = self._locators.get(self.model)
        if locator is None:
            from spineview.ml.architectures import import_keras
            from spineview.ml.level_inference import LevelLocator

            with tensorflow_loading.during():
                import_keras()
                locator = LevelLocator.load(self.model[0])
            self._locators.clear()  # one level model at a time
            self._locators[self.model] = locator
        return locator.locate(
            series,
            study_uid=self.info.study_uid,
            source_key=self.info.key,
        )


class GradeStudyJob(Job[StudyGrades]):
    """Grade a study's 25 findings: decode its sagittal and axial series, crop around each
    finding from the disc levels found, run the grading model (kept for the next study)."""

    pool: ClassVar[PoolName] = "inference"
    _graders: ClassVar[dict[ModelIdentity, Grader]] = {}

    def __init__(
        self, study_uid: str, levels: LevelMap, infos: Sequence[SeriesInfo], model: ModelIdentity
    ) -> None:
        super().__init__()
        self.study_uid = study_uid
        self.levels = levels
        self.infos = list(infos)
        self.model = model

    def work(self) -> StudyGrades:
        series: dict[str, list[Series]] = {}
        for info in self.infos:
            loaded = new_series(info)
            fill_series(loaded, info, cancel=self.cancel_event)
            series.setdefault(info.series_type.label, []).append(loaded)
        grader = self._graders.get(self.model)
        if grader is None:
            from spineview.ml.architectures import import_keras
            from spineview.ml.grade_inference import Grader

            with tensorflow_loading.during():
                import_keras()
                grader = Grader.load(self.model[0])
            self._graders.clear()  # one grading model at a time
            self._graders[self.model] = grader
        return grader.grade_study(self.study_uid, self.levels, series)[1]


class PlanTrainingJob(Job["TrainingPlan"]):
    """Inspect a dataset for training (no TensorFlow): what is there, and can it train."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config

    def work(self) -> TrainingPlan:
        from spineview.models.training_plan import plan_training

        return plan_training(self.config, cancel=self.cancel_event)


class TrainSignals(JobSignals):
    update = Signal(object)  # a TrainProgress: reading, training (per batch), epoch, ...


class TrainJob(Job["TrainResult"]):
    """Train, evaluate and save a model; progress per batch, cancel within a batch."""

    pool: ClassVar[PoolName] = "training"

    def __init__(self, config: TrainConfig, models_dir: Path | None = None) -> None:
        super().__init__()
        self.signals: TrainSignals = TrainSignals()
        self.config = config
        self.models_dir = models_dir

    def work(self) -> TrainResult:
        from spineview.ml.architectures import import_keras

        with tensorflow_loading.during():
            import_keras()  # TensorFlow's libraries loaded without the GIL: the GUI runs on
            freeze_long_lived_objects()
        from spineview.ml.train import train_model

        return train_model(
            self.config,
            models_dir=self.models_dir,
            progress=self.signals.update.emit,
            cancel=self.cancel_event,
        )


class LevelDatasetCheckJob(Job["LevelDatasetCheck"]):
    """Check a folder for level training (no TensorFlow, no decoding): its level marks."""

    def __init__(self, dataset: Path) -> None:
        super().__init__()
        self.dataset = dataset

    def work(self) -> LevelDatasetCheck:
        from spineview.models.level_dataset_check import check_level_dataset

        return check_level_dataset(self.dataset, cancel=self.cancel_event)


class LevelTrainSignals(JobSignals):
    update = Signal(str, float)  # what is happening (an epoch's line), fraction done 0-1


class TaskTrainJob(Job[ResultT]):
    """Train, test and save a level or grading model as `out` with the trainer `TRAINER`
    ("module:config class:function" in spineview.ml); cancel between batches."""

    pool: ClassVar[PoolName] = "training"
    TRAINER: ClassVar[tuple[str, str, str]]

    def __init__(self, dataset: Path, name: str, out: Path, **settings: Any) -> None:
        super().__init__()
        self.signals: LevelTrainSignals = LevelTrainSignals()
        self.dataset = dataset
        self.name = name
        self.out = out
        self.settings = settings
        """The trainer's config fields: epochs, learning_rate, seed, ..."""
        self._lock = threading.Lock()
        self._saved = False

    def cancel(self) -> None:
        """Stop between batches; once the model is saved, too late: it ends as finished."""
        with self._lock:
            if not self._saved:
                super().cancel()

    @classmethod
    def _trainer(cls) -> tuple[Any, Any]:
        import importlib

        module, config, function = cls.TRAINER
        loaded = importlib.import_module(f"spineview.ml.{module}")
        return getattr(loaded, config), getattr(loaded, function)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The trainer config's default values (epochs, learning_rate, ...), for a form (the
        training modules import TensorFlow only when they train)."""
        import dataclasses

        config, _train = cls._trainer()
        return {
            field.name: field.default
            for field in dataclasses.fields(config)
            if field.default is not dataclasses.MISSING
        }

    def work(self) -> ResultT:
        from spineview.ml.architectures import import_keras

        with tensorflow_loading.during():
            import_keras()  # as TrainJob: the libraries load without stalling the GUI
            freeze_long_lived_objects()
        config, train = self._trainer()
        settings = config(self.dataset, self.name, self.out, **self.settings)
        result = train(settings, progress=self.signals.update.emit, cancel=self.cancel_event)
        with self._lock:  # a cancel that came after the last check is not a cancelled run
            self._saved = True
            self.cancel_event.clear()
        return result


class LevelTrainJob(TaskTrainJob["LevelTrainResult"]):
    """Train a disc level model (`ml.level_training`)."""

    TRAINER = ("level_training", "LevelTrainingConfig", "train_levels")


class GradeDatasetCheckJob(Job["GradeDatasetCheck"]):
    """Check a folder for grade training (no TensorFlow, no decoding): its graded, marked
    studies against the trainer's minimum."""

    def __init__(self, dataset: Path) -> None:
        super().__init__()
        self.dataset = dataset

    def work(self) -> GradeDatasetCheck:
        from spineview.ml.grade_training import MIN_STUDIES  # (TensorFlow is imported later)
        from spineview.models.level_dataset_check import check_grade_dataset

        return check_grade_dataset(self.dataset, min_studies=MIN_STUDIES, cancel=self.cancel_event)


class GradeTrainJob(TaskTrainJob["GradeTrainResult"]):
    """Train a grading model (`ml.grade_training`)."""

    TRAINER = ("grade_training", "GradeTrainingConfig", "train_grades")


class _LoadingCount:
    """How many workers are importing TensorFlow or building a model right now: hundreds of
    thousands of objects that live on are being made (the GUI's collector freezes them instead
    of scanning them)."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        return self._count > 0

    @contextmanager
    def during(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1


tensorflow_loading = _LoadingCount()


def prepare_tensorflow_import() -> None:
    """The two steps of TensorFlow's import that stop every other thread, done now, on the
    calling thread, while the window is being built (before it shows); the rest of the import
    then runs on the model thread without freezing the window. Measured here:

    - ml_dtypes (TensorFlow's bfloat16 and float8 numpy types): its C++ module initialisation
      registers dozens of numpy types and ufunc loops while holding the GIL, about 0.6 s.
    - Loading TensorFlow's shared libraries (1.3 GB, about 0.35 s): `dlopen` holds the dynamic
      loader's lock throughout, and every thread that touches thread-local storage of a
      dynamically loaded library (Qt does, all the time) waits for that lock.
    """
    import ml_dtypes  # noqa: F401

    from spineview.ml.architectures import preload_tensorflow_libraries

    preload_tensorflow_libraries()


def freeze_long_lived_objects() -> None:
    """Move every object alive now out of the cyclic collector's sight (`gc.freeze`).

    Importing TensorFlow leaves about 300,000 objects that live as long as the process; the
    GUI thread's full collections (spineview.ui.garbage_collection) would scan them all, about
    190 ms here, a visible stall. Frozen, they cost nothing; whatever among them later becomes
    garbage waits for the next `collect_everything` (a model replaced, a training run ended).
    """
    gc.freeze()


def _nothing() -> None:
    return None


class PythonThreadPool:
    """One long-lived Python thread that runs jobs in turn (with `QThreadPool`'s method names).

    Every worker is one of these, none a QThreadPool: PySide gives a pooled thread a fresh
    Python thread state for every run and frees it afterwards, while TensorFlow's pybind11
    layer caches the state per OS thread; the second job on a reused pooled thread then
    acquires the GIL through a freed state and the process crashes (seen here: a segfault in
    `take_gil` under `PyGraph::version_def`). The suite also once died in a garbage collection
    on the GUI thread while a QThreadPool thread ran a dataset inspection. A Python thread keeps
    one state for its life, and has a name that logs and stack dumps can show.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()

    def start(self, job: Job) -> None:
        with self._lock:
            future = self._running_executor().submit(job.run)
            self._futures.add(future)
        future.add_done_callback(self._done)

    def start_thread(self) -> None:
        """Start the thread now rather than with the first job.

        Creating a thread takes the dynamic loader's lock (thread-local storage), which a
        worker loading TensorFlow's libraries holds for about 0.3 s: a thread started from the
        GUI thread at that moment froze the window for as long.
        """
        with self._lock:
            self._running_executor().submit(_nothing)

    def _running_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:  # the first job, or the first since shutdown()
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return self._executor

    def shutdown(self) -> None:
        """Let the thread end once its queued jobs have run; a later `start` makes a new one."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def activeThreadCount(self) -> int:
        with self._lock:
            return len(self._futures)

    def waitForDone(self, milliseconds: int = -1) -> bool:
        with self._lock:
            pending = set(self._futures)
        timeout = None if milliseconds < 0 else milliseconds / 1000
        _, not_done = wait(pending, timeout=timeout)
        return not not_done


class JobRunner(QObject):
    """Single-thread pools (series loading, thumbnails, inference, training) and their jobs."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loads = PythonThreadPool("loads")
        self.thumbnails = PythonThreadPool("thumbnails")
        self.inference = PythonThreadPool("inference")
        self.training = PythonThreadPool("training")
        self._jobs: set[Job] = set()
        for pool in self._pools():
            pool.start_thread()

    def start(self, job: Job[Any]) -> None:
        """Run `job` on the pool it declares (the only way a job reaches a thread)."""
        self._jobs.add(job)
        # The worker may hold the job's last Python reference. Owned by the runner, the
        # signals' QObject is not destroyed with that reference on the worker's thread, but
        # by deleteLater on the GUI thread once the job has ended.
        job.signals.setParent(self)
        job.signals.ended.connect(self._forget)
        self.pool(job.pool).start(job)

    def pool(self, name: PoolName) -> PythonThreadPool:
        pools: dict[str, PythonThreadPool] = {
            "loads": self.loads,
            "thumbnails": self.thumbnails,
            "inference": self.inference,
            "training": self.training,
        }
        return pools[name]

    def _forget(self, job: Job[Any]) -> None:
        self._jobs.discard(job)
        job.signals.deleteLater()

    def running(self) -> int:
        return len(self._jobs)

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel()

    def wait(self, milliseconds: int = 30_000) -> bool:
        """Cancel everything and wait for the jobs; True when all have ended."""
        self.cancel_all()
        return all(pool.waitForDone(milliseconds) for pool in self._pools())

    def stop(self, milliseconds: int = 30_000) -> bool:
        """`wait`, then let the worker threads end (the window is closing)."""
        ended = self.wait(milliseconds)
        for pool in self._pools():
            pool.shutdown()
        return ended

    def _pools(self) -> tuple[PythonThreadPool, ...]:
        return (self.loads, self.thumbnails, self.inference, self.training)
