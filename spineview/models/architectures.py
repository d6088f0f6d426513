"""The allowlist of model architectures spineview builds, as plain data.

A model on disk names one of these ids. Reading the registry (to list or validate models, to
say how a model samples its uncertainty) never imports TensorFlow; the networks themselves are
built in `ml.architectures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spineview.errors import ModelLoadError


@dataclass(frozen=True)
class Architecture:
    id: str
    input_size: int
    """Square input side in pixels."""
    channels: int
    """Input channels (1 = grayscale; 3 = grayscale replicated by preprocessing)."""
    output: Literal["sigmoid", "softmax", "heatmaps", "grades"]
    """sigmoid: one unit, P(class 1); softmax: one unit per class; heatmaps: one map of logits
    per class (a level model: where each disc is); grades: a softmax over the classes for each
of the five conditions (a grading model reads one crop and answers for its condition)."""
    gradcam_layer: str
    """The convolutional layer the class-activation maps read (inside `backbone` where there
    is one)."""
    description: str
    num_classes: int = 2
    """Length of the class_names list a model of this architecture carries."""
    older_gradcam_layers: tuple[str, ...] = ()
    """Layers a manifest written by an older spineview may name instead (still honoured)."""
    backbone: str | None = None
    """Name of the nested pretrained backbone model, or None (trained whole, from scratch)."""
    distribution_layers: tuple[str, ...] = ()
    """Top-level layers whose outputs, averaged over the image (per channel) and joined, are
    the features the in-distribution check measures. Measured on cnn-demo: the pooled outputs
    of its three convolution blocks put every slice of 10 non-lumbar series beyond the 99th
    percentile of the validation slices, its penultimate Dense layer 0-25 % of them."""
    head_dropout: float = 0.0
    """The dropout rate before the output layer (0: none); Monte-Carlo dropout samples the
    output of `head_input_layer`."""
    head_input_layer: str = ""
    """The layer whose output feeds the output layer: what dropout masks, or the last-layer
    posterior (`models.head_posterior`) is fitted on, where there is no dropout."""
    task: Literal["slices", "levels", "grades"] = "slices"
    """What a model of it does: "slices" classifies each slice (healthy / degenerative);
    "levels" finds the lumbar disc levels on a sagittal series; "grades" grades the RSNA 2024
    findings (Normal/Mild, Moderate, Severe) from crops around each level."""

    def uncertainty_method(self, has_posterior: bool) -> str:
        """How a model of this architecture samples its uncertainty: Monte-Carlo dropout where
        there is dropout before a sigmoid output, else the last-layer posterior where the
        model has one fitted; "" for neither."""
        if self.head_dropout > 0 and self.output == "sigmoid":
            return MC_DROPOUT
        if has_posterior and self.head_input_layer:
            return LAST_LAYER_LAPLACE
        return ""


MC_DROPOUT = "Monte-Carlo dropout"
LAST_LAYER_LAPLACE = "last-layer Laplace"


ARCHITECTURES: dict[str, Architecture] = {
    "cnn": Architecture(
        id="cnn",
        input_size=224,
        channels=1,
        output="sigmoid",
        # conv2 (109 × 109 at 224 px): HiResCAM's peak within 3 px of the lesion on 66 % of
        # cnn-demo's true-positive synthetic slices, 41 % at conv3 (52 × 52)
        gradcam_layer="conv2",
        older_gradcam_layers=("conv3",),
        distribution_layers=("pool1", "pool2", "pool3"),
        head_dropout=0.5,
        head_input_layer="dense",
        description=(
            "Reference CNN: three 3×3 convolutions (32, 64, 128, ReLU, L2 1e-3) with 2×2 max "
            "pooling, Dense 128, dropout 0.5, sigmoid output; 224×224 grayscale input."
        ),
    ),
    "resnet50": Architecture(
        id="resnet50",
        input_size=224,
        channels=3,
        output="softmax",
        # conv3_block4_out (28 × 28 at 224 px): on resnet50-demo's true-positive synthetic
        # slices HiResCAM's peak lies within 3 px of the lesion on 18 %, Layer-CAM's on 29 %;
        # at conv5_block3_out (7 × 7, one cell = 32 px) on 0 % and 3 %, a median 66 px away
        gradcam_layer="conv3_block4_out",
        older_gradcam_layers=("conv5_block3_out",),
        description=(
            "ResNet50 backbone (ImageNet weights when a local copy exists) with a global average "
            "pooling → Dense 1024 → Dense 512 → Dense 2 softmax head; 224×224 input, grayscale "
            "replicated to 3 channels."
        ),
        backbone="resnet50",
        distribution_layers=("pool",),
        head_input_layer="dense2",
    ),
    "levels": Architecture(
        id="levels",
        input_size=128,
        channels=3,
        output="heatmaps",
        # the per-level heatmaps are the model's own evidence: they are what it shows
        gradcam_layer="heatmaps",
        num_classes=5,
        task="levels",
        distribution_layers=("bottleneck",),
        description=(
            "Disc level localiser: a small encoder-decoder (convolutions 16-32-64-96, the last "
            "dilated, with batch normalisation; upsampling with a skip to a 32×32 grid) giving "
            "one heatmap per "
            "disc level L1/L2…L5/S1; each point is the heatmap's soft-argmax, its confidence "
            "the heatmap's mass near that point; input the mid-sagittal slice and its two "
            "neighbours as 3 channels, 128×128."
        ),
    ),
    "grades": Architecture(
        id="grades",
        input_size=64,
        channels=5,
        output="grades",
        gradcam_layer="conv4",
        num_classes=3,
        task="grades",
        distribution_layers=("pool",),
        description=(
            "Finding grader: four 3×3 convolution blocks (32, 64, 96, 128, batch normalisation, "
            "2×2 max pooling), global average pooling, Dense 128, dropout 0.3, and a 3-way "
            "softmax (Normal/Mild, Moderate, Severe) for each of the five conditions; input a "
            "48 mm crop around one finding, 64×64, five slices as channels."
        ),
    ),
}


SLICE_ARCHITECTURES: dict[str, Architecture] = {
    key: entry for key, entry in ARCHITECTURES.items() if entry.task == "slices"
}
"""The slice classifiers among them (what the classifier training and pickers offer)."""


def get_architecture(architecture_id: str) -> Architecture:
    """The registry entry for `architecture_id`; ModelLoadError naming the allowlist otherwise."""
    try:
        return ARCHITECTURES[architecture_id]
    except (KeyError, TypeError):
        allowed = ", ".join(sorted(ARCHITECTURES))
        raise ModelLoadError(
            f"unknown model architecture {architecture_id!r}: spineview builds only {allowed}"
        ) from None
