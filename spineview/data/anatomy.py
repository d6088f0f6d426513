"""A procedural 3-D lumbar spine in patient coordinates, sampled on any image plane.

The model lives in DICOM patient space (LPS, millimetres): x to the patient's left, y to the
back, z up. A curved centreline (lordosis, slight scoliosis) carries L1–L5 and S1 with discs
between them; every structure is defined around it in local coordinates

    u = x − centre_x(z)   (lateral, + = left)      v = y − centre_y(z)   (AP, + = back)
    s = z + slope(z)·v    (along the spine, so endplates stay perpendicular to the curve)

with the spinal canal centred on u = v = 0. Sampling the same model on sagittal and axial
planes is what makes the series of a synthetic study agree with each other, exactly as slices of
one patient do. Degeneration (disc height and signal loss, bulges, foraminal and subarticular
narrowing) is drawn from per-level severities, and `lesion_bits` marks the pixels it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spineview.data.rsna_format import LEVELS

# Tissue labels (index into the contrast tables of `mr_contrast`).
AIR, SKIN, FAT, SOFT_TISSUE, MUSCLE, VESSEL = 0, 1, 2, 3, 4, 5
CORTEX, MARROW, ANNULUS, NUCLEUS, CSF, NERVE = 6, 7, 8, 9, 10, 11
LIGAMENT, JOINT_FLUID, EPIDURAL_FAT, DEGENERATE_NUCLEUS = 12, 13, 14, 15
TISSUE_COUNT = 16

# Bits of the lesion mask: which condition's drawn narrowing a pixel belongs to.
CANAL_BIT, LEFT_FORAMEN_BIT, RIGHT_FORAMEN_BIT, LEFT_RECESS_BIT, RIGHT_RECESS_BIT = (
    1, 2, 4, 8, 16,
)  # fmt: skip

VERTEBRAE = ("L1", "L2", "L3", "L4", "L5", "S1")


@dataclass
class LevelDegeneration:
    """Drawn severity of one disc level, each in [0, 1] (0 = healthy)."""

    disc: float = 0.0  # height loss and T2 signal loss of the disc
    canal: float = 0.0  # posterior bulge into the spinal canal
    foramen_left: float = 0.0
    foramen_right: float = 0.0
    recess_left: float = 0.0  # facet/ligament hypertrophy into the lateral recess
    recess_right: float = 0.0


@dataclass
class SpineModel:
    """One synthetic patient's lumbar spine (all lengths in mm)."""

    body_heights: np.ndarray  # L1..S1 along the spine
    disc_heights: np.ndarray  # healthy L1/L2..L5/S1, before degeneration
    degeneration: list[LevelDegeneration]
    top: float = 110.0  # s of the L1 upper endplate
    lordosis_depth: float = 12.0  # forward bow of the centreline at mid-lumbar level
    scoliosis: float = 0.0  # lateral bow amplitude
    centre_y: float = 0.0  # AP position of the canal centre at mid-height
    body_half_width: float = 22.0
    body_half_depth: float = 16.0
    canal_half_width: float = 11.5
    canal_half_depth: float = 8.0
    torso_half_width: float = 165.0
    torso_half_depth: float = 115.0
    fat_thickness: float = 18.0
    psoas_growth: float = 1.0
    warp_phases: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)  # soft-tissue irregularity
    segments: np.ndarray = field(init=False)  # s boundaries, top to bottom

    def __post_init__(self) -> None:
        heights = []
        for index, body in enumerate(self.body_heights):
            heights.append(float(body))
            if index < len(self.disc_heights):
                heights.append(self.effective_disc_height(index))
        self.segments = self.top - np.concatenate([[0.0], np.cumsum(heights)])

    def effective_disc_height(self, level: int) -> float:
        return float(self.disc_heights[level]) * (1.0 - 0.5 * self.degeneration[level].disc)

    # --- centreline ------------------------------------------------------------------------

    def _mid(self) -> float:
        return float((self.segments[0] + self.segments[-1]) / 2)

    def centre(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Canal centre (x, y) and dy/dz of the centreline at heights z."""
        half = (self.segments[0] - self.segments[-1]) / 2
        t = (z - self._mid()) / half
        y = self.centre_y - self.lordosis_depth * (1 - t * t)
        slope = 2 * self.lordosis_depth * t / half
        x = self.scoliosis * np.sin(np.pi * t)
        return x, y, slope

    def disc_centre(self, level: int) -> tuple[float, float, float]:
        """Patient (x, y, z) of the canal centre at the middle of disc `level` (0 = L1/L2)."""
        s = float((self.segments[2 * level + 1] + self.segments[2 * level + 2]) / 2)
        x, y, _ = self.centre(np.array([s]))
        return float(x[0]), float(y[0]), s

    def spine_slope(self, z: float) -> float:
        return float(self.centre(np.array([z]))[2][0])

    # --- measurements that decide the grades ----------------------------------------------

    def canal_remaining(self, level: int) -> float:
        """Fraction of the healthy canal AP diameter left at the disc (midline)."""
        d = self.degeneration[level]
        intrusion = self.bulge_depth(level) + self.flavum_extra(level) * 0.5 + 2.5 * d.recess_left
        return max(0.0, 1.0 - intrusion / (2 * self.canal_half_depth))

    def bulge_depth(self, level: int) -> float:
        return 11.0 * self.degeneration[level].canal

    def flavum_extra(self, level: int) -> float:
        d = self.degeneration[level]
        return 3.0 * max(d.recess_left, d.recess_right, d.canal * 0.6)

    def foramen_remaining(self, level: int, side: str) -> float:
        """Fraction of the foramen's fat left (1 = open)."""
        d = self.degeneration[level]
        return 1.0 - 0.9 * (d.foramen_left if side == "left" else d.foramen_right)

    def recess_remaining(self, level: int, side: str) -> float:
        d = self.degeneration[level]
        return 1.0 - 0.85 * (d.recess_left if side == "left" else d.recess_right)

    # --- sampling --------------------------------------------------------------------------

    def sample(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tissue labels (uint8) and lesion bits (uint8) at patient points of equal shape."""
        return _Sampler(self, x, y, z).run()


class _Sampler:
    """Paints one plane's tissues in anatomical order (later structures cover earlier ones)."""

    def __init__(self, model: SpineModel, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
        self.m = model
        x, y, z = (np.asarray(a, dtype=np.float32) for a in (x, y, z))  # float32 halves the work
        cx, cy, slope = model.centre(z)
        self.x = x.astype(np.float32)
        self.y = y.astype(np.float32)
        self.u = (x - cx).astype(np.float32)
        self.v = (y - cy).astype(np.float32)
        self.s = (z + slope * (y - cy)).astype(np.float32)
        # Soft tissues are not ellipses: a smooth 3-D warp (same for every plane) bends them.
        p = model.warp_phases
        self.warp_u = (
            4.0 * np.sin(self.y / 41.0 + p[0]) * np.cos(z / 57.0 + p[1])
            + 2.5 * np.sin(x / 23.0 + z / 71.0 + p[2])
        ).astype(np.float32)
        self.warp_v = (
            4.0 * np.sin(self.x / 37.0 + p[3]) * np.cos(z / 63.0 + p[4])
            + 2.5 * np.sin(y / 29.0 + z / 67.0 + p[5])
        ).astype(np.float32)
        self.tissue = np.zeros(x.shape, dtype=np.uint8)
        self.lesion = np.zeros(x.shape, dtype=np.uint8)
        # segment index along the spine: even = vertebra, odd = disc; -1 above L1, beyond = sacrum
        boundaries = model.segments[::-1]
        self.segment = len(boundaries) - 1 - np.searchsorted(boundaries, self.s)
        self.segment = self.segment.astype(np.int16)
        top = model.segments[np.clip(self.segment, 0, len(model.segments) - 2)]
        bottom = model.segments[np.clip(self.segment + 1, 0, len(model.segments) - 1)]
        span = np.maximum(top - bottom, 1e-3)
        self.frac = ((top - self.s) / span).astype(np.float32)  # 0 at segment top, 1 at bottom
        self.body_v = -(model.canal_half_depth + 1.5 + model.body_half_depth)

    def paint(self, where: np.ndarray, tissue: int) -> None:
        self.tissue[where] = tissue

    def ellipse(self, cu: float, cv: float, au: float, av: float) -> np.ndarray:
        return ((self.u - cu) / au) ** 2 + ((self.v - cv) / av) ** 2 <= 1.0

    def soft_ellipse(self, cu: float, cv: float, au: float, av: float) -> np.ndarray:
        """An ellipse in warped coordinates: muscles, fat and vessels look organic."""
        u, v = self.u + self.warp_u, self.v + self.warp_v
        return ((u - cu) / au) ** 2 + ((v - cv) / av) ** 2 <= 1.0

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        self._torso()
        self._muscles()
        self._vessels()
        tissue, lesion = self.tissue, self.lesion
        box = self._spine_box()
        if box is not None:
            self._crop(box)  # bone, canal and lesions only exist near the spine: paint there
            self._vertebrae_and_discs()
            self._sacrum()
            self._foramina()
            self._posterior_elements()
            self._canal()
            self._degeneration()
        return tissue, lesion

    _PER_PIXEL = ("x", "y", "u", "v", "s", "warp_u", "warp_v", "segment", "frac", "tissue",
                  "lesion")  # fmt: skip

    def _spine_box(self) -> tuple[slice, slice] | None:
        """Rows and columns of the image that can hold spinal structures (plus a margin)."""
        m = self.m
        near = (
            (np.abs(self.u) < m.canal_half_width + 40.0)
            & (self.v > self.body_v - m.body_half_depth - 6.0)
            & (self.v < m.canal_half_depth + 52.0)
        )
        if not near.any():
            return None
        rows = np.flatnonzero(near.any(axis=1))
        cols = np.flatnonzero(near.any(axis=0))
        return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)

    def _crop(self, box: tuple[slice, slice]) -> None:
        """Narrow every per-pixel array to `box` (views: painting writes through)."""
        for name in self._PER_PIXEL:
            setattr(self, name, getattr(self, name)[box])

    # --- soft tissues ----------------------------------------------------------------------

    def _torso(self) -> None:
        """Body outline in fixed patient axes (it does not follow the spine's curve)."""
        m = self.m
        back = m.centre_y + m.canal_half_depth + 72.0  # skin of the back
        centre = back - m.torso_half_depth
        x = self.x + 2.0 * self.warp_u
        y = self.y + 1.5 * self.warp_v - centre
        outer = (x / m.torso_half_width) ** 2 + (y / m.torso_half_depth) ** 2 <= 1.0
        width, depth = m.torso_half_width - m.fat_thickness, m.torso_half_depth - m.fat_thickness
        inner = (x / width) ** 2 + (y / depth) ** 2 <= 1.0
        skin_w, skin_d = m.torso_half_width - 2.0, m.torso_half_depth - 2.0
        skin = outer & ~((x / skin_w) ** 2 + (y / skin_d) ** 2 <= 1.0)
        self.paint(outer, FAT)
        self.paint(inner, SOFT_TISSUE)
        # fat around the spine and psoas (retroperitoneum), not a band across the whole body
        around = self.soft_ellipse(0.0, self.body_v - 2.0, 50.0, m.body_half_depth + 7.0)
        self.paint(inner & around, FAT)
        self.paint(skin, SKIN)

    def _muscles(self) -> None:
        m = self.m
        # psoas: grows from L1 downwards, beside the vertebral bodies
        depth = np.clip((m.segments[0] - self.s) / (m.segments[0] - m.segments[-1]), 0, 1)
        radius = (6.0 + 16.0 * depth * m.psoas_growth).astype(np.float32)
        for side in (-1.0, 1.0):
            cu = side * (m.body_half_width + radius * 0.8)
            inside = ((self.u + 0.5 * self.warp_u - cu) / radius) ** 2 + (
                (self.v + 0.5 * self.warp_v - self.body_v - 0.15 * radius) / (radius * 0.8)
            ) ** 2 <= 1.0
            self.paint(inside & (self.s < m.segments[0] + 10) & (self.s > m.segments[-2] - 10),
                       MUSCLE)  # fmt: skip
            # erector spinae and multifidus behind the laminae
            back = m.canal_half_depth + 27.0
            u, v = self.u + self.warp_u, self.v + self.warp_v
            erector = _power((u - side * 19.0) / 21.0, 3) + _power((v - back) / 25.0, 3)
            self.paint(erector <= 1.0, MUSCLE)  # a rounded block on each side of the spinous
            self.paint(self.soft_ellipse(side * 60.0, 10.0, 15.0, 10.0), MUSCLE)  # quadratus

    def _vessels(self) -> None:
        front = self.body_v - self.m.body_half_depth - 12.0
        above_bifurcation = self.s > self.m.segments[7]  # aorta divides at L4
        self.paint(self.ellipse(9.0, front, 10.0, 10.0) & above_bifurcation, VESSEL)  # aorta
        self.paint(self.soft_ellipse(-15.0, front + 2, 12.0, 7.0) & above_bifurcation, VESSEL)
        for side in (-1.0, 1.0):  # iliac vessels below the bifurcation
            self.paint(self.ellipse(side * 22.0, front, 7.0, 7.0) & ~above_bifurcation, VESSEL)

    # --- bone and discs --------------------------------------------------------------------

    def _vertebrae_and_discs(self) -> None:
        m = self.m
        seg = self.segment
        body = (seg >= 0) & (seg % 2 == 0) & (seg <= 2 * (len(VERTEBRAE) - 1))
        disc = (seg >= 0) & (seg % 2 == 1) & (seg < 2 * len(m.disc_heights))
        # bodies are waisted (concave walls) with rounded rims at the endplates
        edge = np.clip(1.0 - np.minimum(self.frac, 1.0 - self.frac) / 0.14, 0.0, 1.0)
        shrink = (1.0 - 0.05 * np.sin(np.pi * self.frac) - 0.1 * edge**2) * body
        shrink = np.where(body, shrink, 1.0)
        half_width, half_depth = m.body_half_width * shrink, m.body_half_depth * shrink
        section = (self.u / half_width) ** 2 + ((self.v - self.body_v) / half_depth) ** 2 <= 1.0
        core = (self.u / (half_width - 1.8)) ** 2 + (
            (self.v - self.body_v) / (half_depth - 1.8)
        ) ** 2 <= 1.0
        level_height = np.take(np.diff(-m.segments), np.clip(seg, 0, len(m.segments) - 2))
        endplate = (self.frac * level_height < 1.6) | ((1 - self.frac) * level_height < 1.6)
        self.paint(body & section, CORTEX)
        self.paint(body & core & ~endplate, MARROW)
        bulge_section = self.ellipse(0.0, self.body_v, m.body_half_width + 1.0,
                                     m.body_half_depth + 1.0)  # fmt: skip
        self.paint(disc & bulge_section, ANNULUS)
        level = np.clip((seg - 1) // 2, 0, len(m.disc_heights) - 1)
        nucleus = (
            ((self.u / (0.55 * m.body_half_width)) ** 2
             + ((self.v - self.body_v - 2.0) / (0.55 * m.body_half_depth)) ** 2
             + ((self.frac - 0.5) / 0.36) ** 2) <= 1.0
        )  # fmt: skip
        degenerate = np.array([d.disc > 0.45 for d in m.degeneration])[level]
        self.paint(disc & nucleus & ~degenerate, NUCLEUS)
        self.paint(disc & nucleus & degenerate, DEGENERATE_NUCLEUS)

    def _sacrum(self) -> None:
        m = self.m
        below = self.s < m.segments[-1]
        depth = np.clip((m.segments[-1] - self.s) / 60.0, 0, 1)
        tilt = self.body_v + 30.0 * depth  # the sacrum bends backwards
        width = m.body_half_width * (1.0 - 0.5 * depth)
        section = ((self.u / width) ** 2 + ((self.v - tilt) / (m.body_half_depth * 0.9)) ** 2) <= 1
        self.paint(below & (self.s > m.segments[-1] - 70) & section, MARROW)

    def _vertebra_ellipsoid(
        self,
        vertebra: int,
        centre: tuple[float, float, float],
        axes: tuple[float, float, float],
        power: int = 2,
    ) -> np.ndarray:
        """Normalised radius of a (super)ellipsoid placed relative to vertebra `vertebra`.

        centre = (|u|, v, s offset from the vertebra's lower endplate); mirrored left/right.
        power 4 gives the boxier outline of processes and pillars.
        """
        low = float(self.m.segments[2 * vertebra + 1])
        return (
            _power((np.abs(self.u) - centre[0]) / axes[0], power)
            + _power((self.v - centre[1]) / axes[1], power)
            + _power((self.s - low - centre[2]) / axes[2], power)
        )

    def _paint_bone(self, radius: np.ndarray, axes: tuple[float, float, float]) -> None:
        """Cortex shell of about 1.5 mm around marrow."""
        smallest = min(axes)
        self.paint(radius <= 1.0, CORTEX)
        self.paint(radius <= ((smallest - 1.5) / smallest) ** 2, MARROW)

    def _foramina(self) -> None:
        """Keyhole of fat with the exiting root, lateral to the canal, at each disc level."""
        m = self.m
        wall = self.body_v + m.body_half_depth
        mid_v = (wall + m.canal_half_depth) / 2
        for vertebra in range(len(m.disc_heights)):
            height = float(m.body_heights[vertebra])
            radius = self._vertebra_ellipsoid(
                vertebra, (m.canal_half_width + 6.0, mid_v, 1.0), (6.5, 5.5, 0.42 * height)
            )
            self.paint(radius <= 1.0, FAT)
            root = self._vertebra_ellipsoid(
                vertebra, (m.canal_half_width + 5.0, mid_v - 0.5, 0.16 * height), (6.0, 2.4, 2.6)
            )
            self.paint(root <= 1.0, NERVE)

    def _posterior_elements(self) -> None:
        m = self.m
        canal_w, canal_d = m.canal_half_width, m.canal_half_depth
        wall = self.body_v + m.body_half_depth
        for vertebra in range(len(VERTEBRAE) - 1):
            height = float(m.body_heights[vertebra])
            pedicle_axes = (4.5, (canal_d - wall) / 2 + 3.0, 0.26 * height)
            pedicle = self._vertebra_ellipsoid(
                vertebra, (canal_w + 4.0, (wall + canal_d) / 2, 0.7 * height), pedicle_axes
            )
            self._paint_bone(pedicle, pedicle_axes)
            lamina_axes = (canal_w + 6.0, 3.5, 0.36 * height)
            lamina = (
                (self.u / lamina_axes[0]) ** 2
                + ((self.v - canal_d - 5.5) / lamina_axes[1]) ** 2
                + ((self.s - float(m.segments[2 * vertebra + 1]) - 0.55 * height)
                   / lamina_axes[2]) ** 2
            )  # fmt: skip
            self._paint_bone(lamina, lamina_axes)
            # spinous process: a plate sloping down and back from the lamina
            back = self.v - canal_d - 7.0
            low = float(m.segments[2 * vertebra + 1])
            centre_s = low + 0.45 * height - 0.35 * back
            spinous_axes = (4.5, 17.0, 0.34 * height)
            spinous = (
                (self.u / spinous_axes[0]) ** 2
                + _power((back - 17.0) / spinous_axes[1], 4)
                + _power((self.s - centre_s) / spinous_axes[2], 4)
            )
            self._paint_bone(spinous, spinous_axes)
            transverse_axes = (15.0, 3.5, 5.0)
            transverse = self._vertebra_ellipsoid(
                vertebra, (canal_w + 24.0, 1.0, 0.6 * height), transverse_axes
            )
            self._paint_bone(transverse, transverse_axes)
            # facet joint at the disc below: superior process of the next vertebra in front,
            # inferior process of this one behind, a thin joint space between them
            facet_axes = (6.5, 7.0, 9.0)
            facet = (
                self._vertebra_ellipsoid(
                    vertebra,
                    (
                        canal_w + 6.0,
                        canal_d + 4.0,
                        -0.5 * self.m.effective_disc_height(min(vertebra, len(m.disc_heights) - 1)),
                    ),
                    facet_axes,
                )
                if vertebra < len(m.disc_heights)
                else None
            )
            if facet is not None:
                self._paint_bone(facet, facet_axes)
                lateral = np.abs(self.u)
                joint = (facet <= 1.0) & (
                    np.abs(self.v - canal_d - 4.0 - 0.5 * (lateral - canal_w - 6.0)) < 0.8
                )
                self.paint(joint, JOINT_FLUID)
                flavum = (
                    (facet <= 1.6) & (lateral < canal_w) & (self.v > canal_d - 0.5)
                    & (self.v < canal_d + 2.5)
                )  # fmt: skip
                self.paint(flavum, LIGAMENT)

    def _canal(self) -> None:
        m = self.m
        inside = self.ellipse(0.0, 0.0, m.canal_half_width, m.canal_half_depth)
        inside &= self.s > m.segments[-1] - 40  # the thecal sac ends in the upper sacrum
        self.paint(inside, CSF)
        epidural = self.ellipse(0.0, m.canal_half_depth - 1.0, 5.0, 3.0) & ~inside
        epidural &= self.s > m.segments[-1] - 40
        self.paint(epidural & (self.tissue != CORTEX), EPIDURAL_FAT)
        # the cord tapers to the conus at L1, then the cauda equina runs down the sac
        cord_end = float(m.segments[1])  # lower endplate of L1
        cord_radius = np.clip((self.s - cord_end) / 25.0, 0.0, 1.0) * 4.5
        cord = (self.u / np.maximum(cord_radius, 1e-3)) ** 2 + (
            (self.v + 0.5) / np.maximum(cord_radius * 0.8, 1e-3)
        ) ** 2 <= 1.0
        self.paint(inside & cord & (cord_radius > 0.5), NERVE)
        conus = self.s < cord_end + 10
        for cu, cv in ((-4.5, 3.0), (-1.5, 4.5), (1.5, 4.5), (4.5, 3.0), (-6.5, 0.5),
                       (6.5, 0.5), (-3.0, 1.0), (3.0, 1.0)):  # fmt: skip
            self.paint(inside & conus & self.ellipse(cu, cv, 0.9, 0.9), NERVE)

    # --- degeneration ----------------------------------------------------------------------

    def _endplate_marrow(self) -> None:
        """Fatty marrow (Modic type 2) in the endplates next to badly degenerate discs."""
        m = self.m
        seg = self.segment
        body = (seg >= 0) & (seg % 2 == 0) & (seg <= 2 * len(m.disc_heights))
        level_height = np.take(np.diff(-m.segments), np.clip(seg, 0, len(m.segments) - 2))
        for level, degeneration in enumerate(m.degeneration):
            if degeneration.disc < 0.6:
                continue
            above, below = 2 * level, 2 * level + 2  # the bodies on either side of the disc
            band = 3.0 + 6.0 * (degeneration.disc - 0.6)
            near = ((seg == above) & ((1 - self.frac) * level_height < band)) | (
                (seg == below) & (self.frac * level_height < band)
            )
            self.paint(body & near & (self.tissue == MARROW), EPIDURAL_FAT)

    def _degeneration(self) -> None:
        m = self.m
        seg = self.segment
        self._endplate_marrow()
        at_disc = (seg % 2 == 1) & (seg < 2 * len(m.disc_heights)) & (seg > 0)
        level = np.clip((seg - 1) // 2, 0, len(m.disc_heights) - 1)
        lateral = np.abs(self.u)
        canal_w, canal_d = m.canal_half_width, m.canal_half_depth
        wall = self.body_v + m.body_half_depth  # posterior edge of the disc
        bulge = np.array([m.bulge_depth(i) for i in range(len(m.disc_heights))])[level]
        profile = np.clip(1.0 - (self.u / (0.8 * m.body_half_width)) ** 2, 0, 1)
        protrusion = at_disc & (self.v > wall) & (self.v < wall + bulge * profile)
        self.paint(protrusion, ANNULUS)
        self.lesion[protrusion & (bulge > 0)] |= CANAL_BIT
        flavum = np.array([m.flavum_extra(i) for i in range(len(m.disc_heights))])[level]
        thick = (
            at_disc & (self.v > canal_d - 0.5 - flavum) & (self.v < canal_d + 2.5)
            & (lateral < canal_w)
        )  # fmt: skip
        self.paint(thick, LIGAMENT)
        self.lesion[thick & (flavum > 0.5)] |= CANAL_BIT
        for side, sign, foramen_bit, recess_bit in (
            ("left", 1.0, LEFT_FORAMEN_BIT, LEFT_RECESS_BIT),
            ("right", -1.0, RIGHT_FORAMEN_BIT, RIGHT_RECESS_BIT),
        ):
            on_side = self.u * sign > 0
            closing = np.array(
                [1.0 - m.foramen_remaining(i, side) for i in range(len(m.disc_heights))]
            )[level]
            band = (lateral > canal_w) & (lateral < canal_w + 13.0) & on_side
            lower_body = (seg % 2 == 0) & (self.frac > 0.45)
            zone = band & ((seg % 2 == 1) | lower_body) & (seg > 0)
            zone &= seg < 2 * len(m.disc_heights) + 1
            # disc/osteophyte material grows backwards from the disc margin into the foramen
            reach = (self.v > wall - 3.0) & (
                self.v < wall - 3.0 + closing * (canal_d + 2.0 - wall + 3.0)
            )
            narrowing = zone & reach & (closing > 0.02) & np.isin(self.tissue, (FAT, NERVE))
            self.paint(narrowing, ANNULUS)
            self.lesion[narrowing] |= foramen_bit
            recess = np.array(
                [1.0 - m.recess_remaining(i, side) for i in range(len(m.disc_heights))]
            )[level]
            hypertrophy = (
                at_disc & on_side & (lateral > canal_w - 7.0 * recess) & (lateral < canal_w + 2)
                & (self.v > 0.0) & (self.v < canal_d + 3.0) & (recess > 0.02)
            )  # fmt: skip
            self.paint(hypertrophy, MARROW)
            self.lesion[hypertrophy] |= recess_bit


def _power(values: np.ndarray, exponent: int) -> np.ndarray:
    """|values| ** exponent by multiplication: numpy's general float power is ~20x slower."""
    square = values * values
    if exponent == 2:
        return square
    if exponent == 4:
        return square * square
    return square * np.abs(values)


def level_names() -> tuple[str, ...]:
    return LEVELS
