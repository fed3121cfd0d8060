"""Normal anatomy of the CT phantom, part 1: sampled proportions, body wall, thoracic cavity, lungs, abdomen.

All sizes are physical mm drawn from the anatomy rng alone (never from the findings), placed relative to the
scan range: the lung apex a little below the top slice, the kidneys at the bottom. Levels are written as t, the
fraction of the apex-to-mid-kidney length (t = 0 apex, t = 1 mid kidneys), so proportions hold for any patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medvlp.data.synthetic.ct_canvas import F32, Box, Canvas, lut, soft

# label codes (the names live in ct_render.CT_LABELS)
BODY, FAT, LUNG_R, LUNG_L, AIRWAY, HEART, AORTA, LIVER, SPLEEN, KIDNEY_R, KIDNEY_L, BONE = range(1, 13)
NODULE, EFFUSION, CONSOLIDATION, EMPHYSEMA, PERICARDIAL, LIVER_LESION, KIDNEY_CYST = range(13, 20)
LUNGS = (LUNG_R, LUNG_L)
LUNG_LIKE = lut((LUNG_R, LUNG_L, CONSOLIDATION, EMPHYSEMA))
SOFT_ABDOMEN = lut((BODY, FAT))
# organs claim a boundary voxel when they fill 60% of it (not 50%): label means stay near the organ's own HU
# even at coarse matrices, where partial-volume rims are a large share of a small organ
ORGAN_T = 0.6


def ss(e0: float, e1: float, t: np.ndarray | float) -> np.ndarray:
    """Smoothstep from 0 at e0 to 1 at e1."""
    u = np.clip((np.asarray(t, np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return u * u * (3 - 2 * u)


@dataclass
class Anatomy:
    """Proportions and densities of one phantom patient (LPS mm and HU)."""

    bx: float  # midline x
    y_post: float  # posterior wall of the thoracic cavity at the midline (front of the spinal canal)
    z_apex: float
    length: float  # apex to mid-kidney, mm
    ac: float  # thoracic cavity semi-axes at mid thorax (left-right, antero-posterior)
    bc: float
    fat: float  # subcutaneous fat thickness
    musc: float  # chest wall muscle thickness (lateral, anterior, posterior)
    musc_ant: float
    musc_post: float
    belly: float  # extra anterior abdominal fat, as a share of `fat`
    hu: dict[str, float] = field(default_factory=dict)
    lv: dict[str, float] = field(default_factory=dict)  # levels (t)
    extra: dict[str, float] = field(default_factory=dict)

    def z(self, t: float | np.ndarray) -> float | np.ndarray:
        return self.z_apex - np.asarray(t) * self.length

    def t(self, z: float | np.ndarray) -> np.ndarray:
        return (self.z_apex - np.asarray(z, np.float64)) / self.length

    def cavity(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Thoracic/abdominal cavity ellipse at levels z: semi-axes a, b and centre y (posterior wall fixed)."""
        t = self.t(z)
        a = self.ac * (0.5 + 0.5 * ss(-0.1, 0.5, t))
        b = self.bc * (0.5 + 0.5 * ss(-0.1, 0.5, t))
        return a, b, self.y_post - b

    def frame(self, b: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cavity-relative coordinates on a box: mm outside the cavity wall (negative inside, measured along the ray
        from the cavity centre), posteriorness v (-1 front .. 1 back) and laterality h (-1 right .. 1 left).

        The cavity is an ellipse whose back bulges either side of the spine (the paravertebral gutters).
        """
        z = b.z.astype(np.float64)
        a, bb, yc = self.cavity(z)
        x = b.x - F32(self.bx)  # [1, 1, nx]
        gut = self.extra["gutter"] * ss(0.0, 0.25, self.t(z)) * np.exp(-(((np.abs(x) - 0.45 * a) / (0.3 * a)) ** 2))
        y = b.y - yc.astype(F32)  # [nz, ny, 1]
        y = y - gut.astype(F32) * np.clip(y / bb.astype(F32) + F32(0.3), 0, 1)  # bulge only the back [nz, ny, nx]
        rho = np.sqrt((x / a.astype(F32)) ** 2 + (y / bb.astype(F32)) ** 2)
        p = np.sqrt(x * x + y * y) + F32(1e-3)
        d = p - p / np.maximum(rho, F32(1e-3))
        return d, y / p, x / p

    def dome(self, x: np.ndarray, y: np.ndarray, side: str | None = None) -> np.ndarray:
        """Height of the diaphragm under (x, y): the right dome for x right of midline, the left one otherwise.

        side=None takes the higher of the two (the envelope the heart rests on).
        """
        out = []
        for s in ("right", "left"):
            e = self.extra
            zc, xc = e[f"dome_z_{s}"], e[f"dome_x_{s}"]
            out.append(zc - e["dome_kx"] * (x - xc) ** 2 - e["dome_ky"] * (y - e["dome_y"]) ** 2)
        if side is None:
            return np.maximum(out[0], out[1])
        if side == "both":
            return np.where(x < self.bx, out[0], out[1])
        return out[0] if side == "right" else out[1]


def sample_anatomy(rng: np.random.Generator, cv: Canvas) -> Anatomy:
    """Draw one patient's proportions, fitted to the scan range and field of view."""
    u = rng.uniform
    top, bottom = cv.zs[-1] + cv.dz / 2, cv.zs[0] - cv.dz / 2
    m_top = u(8, 25)
    length = float(np.clip(top - bottom - m_top - u(0, 15), 250, 330))
    fov_x, fov_y = cv.shape[2] * cv.dx, cv.shape[1] * cv.dy
    cx0, cy0 = cv.ox - cv.dx / 2 + fov_x / 2, cv.oy - cv.dy / 2 + fov_y / 2
    ac, bc = u(112, 138), u(74, 94)
    fat = float(np.exp(u(np.log(5), np.log(38))))
    musc, musc_ant, musc_post, belly = u(7, 13), u(9, 17), u(30, 42), u(0, 0.8)
    # fit the body in the field of view: thin the fat first, then shrink everything
    half_w = ac + musc + 1.4 * fat
    depth = 2 * bc + musc_ant + musc_post + (1.7 + belly) * fat
    room_x, room_y = fov_x / 2 - 12, fov_y - 30
    while half_w > room_x or depth > room_y:
        if fat > 6:
            fat *= 0.85
        else:
            ac, bc, musc_post = ac * 0.95, bc * 0.95, musc_post * 0.95
        half_w = ac + musc + 1.4 * fat
        depth = 2 * bc + musc_ant + musc_post + (1.7 + belly) * fat
    bx = cx0 + u(-1, 1) * min(8.0, room_x - half_w)
    y_front = cy0 - depth / 2 + u(-1, 1) * min(8.0, (room_y - depth) / 2)
    y_post = y_front + (1 + belly) * fat + musc_ant + 2 * bc
    an = Anatomy(bx, y_post, top - m_top, length, ac, bc, fat, musc, musc_ant, musc_post, belly)
    an.hu = {
        "fat": u(-108, -86),
        "muscle": u(41, 50),
        "lung": u(-905, -882),
        "lung_grad": u(25, 60),
        "blood": u(37, 46),
        "liver": u(54, 62),
        "spleen": u(45, 50),
        "kidney": u(32, 38),
        "bone": u(220, 320),
        "cortex": u(700, 1000),
        "cartilage": u(90, 170),
        "bile": u(2, 14),
    }
    an.lv = {"carina": u(0.28, 0.33), "arch": u(0.19, 0.23), "heart": u(0.47, 0.52)}
    an.lv["dome_r"] = u(0.62, 0.69)
    an.lv["dome_l"] = an.lv["dome_r"] + u(0.02, 0.06)
    an.lv["kid_r"], an.lv["kid_l"] = u(0.98, 1.05), u(0.93, 0.99)
    e = an.extra
    e.update(
        dome_z_right=float(an.z(an.lv["dome_r"])),
        dome_z_left=float(an.z(an.lv["dome_l"])),
        dome_x_right=bx - u(0.38, 0.5) * ac,
        dome_x_left=bx + u(0.38, 0.5) * ac,
        dome_y=y_post - u(1.05, 1.3) * bc,
        dome_kx=u(0.008, 0.012),
        dome_ky=u(0.004, 0.006),
        apex_k=u(0.24, 0.32),
        apex_x=u(0.38, 0.48) * ac,
        apex_dy=u(0.1, 0.3) * bc,
        gutter=u(12, 22),
        pect=u(0, 8),
        apex_dz_l=u(-8, 4),
        tdia=u(3.5, 5.5),
        liver_h=u(135, 175) * length / 300,
        w_ant=u(4, 12),
        w_top=u(20, 30),
        spine_a=u(14, 17),
        spine_b=u(11, 13.5),
    )
    return an


# ---- drawing ---------------------------------------------------------------------------------------------------
def ellipse_cover(
    b: Box, cx: float, cy: np.ndarray | float, a: np.ndarray | float, bb: np.ndarray | float, px: float, p: float = 2.0
) -> np.ndarray:
    """Coverage of the (super)ellipse |x/a|^p + |y/b|^p < 1 per slice; a, b, cy may vary with z ([nz, 1, 1])."""
    u = np.abs((b.x - F32(cx)) / np.asarray(a, F32)) ** F32(p)  # [nz|1, 1, nx]
    v = np.abs((b.y - np.asarray(cy, F32)) / np.asarray(bb, F32)) ** F32(p)  # [nz|1, ny, 1]
    q = u + v  # [nz, ny, nx]
    k = (np.sqrt(np.asarray(a, F32) * np.asarray(bb, F32)) / F32(p * px)).astype(F32)
    q -= F32(1)
    q *= -k
    q += F32(0.5)
    return np.clip(q, 0, 1, out=q)


def draw_body(cv: Canvas, an: Anatomy, tex: np.ndarray, fr: tuple[np.ndarray, ...]) -> None:
    """Skin, subcutaneous fat and chest wall muscle as layers around the cavity; the CT table under the back.

    Layer thicknesses depend on the level and on the direction from the cavity centre (v = posteriorness; in-plane
    h^2 = 1 - v^2), so they are tabulated per slice over 256 directions and looked up per voxel.
    """
    d, v, _ = fr
    t = an.t(cv.zs.astype(np.float64))[:, None]  # [D, 1]
    vv = np.linspace(-1, 1, 256)[None, :]  # [1, 256]
    ant, post, h2 = np.clip(-vv, 0, 1), np.clip(vv, 0, 1), 1 - vv**2
    pect = an.extra["pect"] * (1 - ss(0.25, 0.5, t))
    musc = (
        an.musc
        + (an.musc_ant - an.musc) * ant**2
        + (an.musc_post - an.musc) * post**3
        + (38 * (1 - ss(-0.02, 0.28, t)) + 1.2 * pect * ant) * h2
    )  # [D, 256]
    fat = an.fat * (1 + 0.3 * h2) * (1 + an.belly * ss(0.55, 1.0, t) * ant**2) * (1 - 0.4 * post**2)
    px = cv.px
    luts = [((m / px) + 0.5).astype(F32).ravel() for m in (musc + fat, musc + fat - 2, musc)]
    idx = np.rint((v + F32(1)) * F32(127.5)).astype(np.intp)
    idx += (np.arange(cv.shape[0]) * 256)[:, None, None]
    dp = d * F32(1 / px)
    # the back rests on the table's cradle: flattened, curving up a little at the sides
    back = F32(an.y_post + an.musc_post + 0.5 * an.fat) - F32(0.0006) * (cv.xs[None, :] - F32(an.bx)) ** 2
    flat = soft(cv.ys[:, None] - back, F32(2 * px))[None]  # [1, H, W]
    a_skin, a_fat, a_mus = (np.clip(lut.take(idx) - dp, 0, 1) for lut in luts)
    a_skin *= flat
    a_fat *= flat
    skin, hf, hm = an.hu["muscle"] - 15, an.hu["fat"], an.hu["muscle"]
    hu = F32(-1000) + a_skin * F32(skin + 1000) + a_fat * F32(hf - skin) + a_mus * F32(hm - hf)
    hu += tex * (F32(7) * a_fat - F32(3) * a_mus)
    cv.hu[...] = hu
    cv.lab[...] = np.where(a_fat > 0.5, np.uint8(FAT), (a_skin > 0.5).astype(np.uint8) * np.uint8(BODY))
    cv.lab[a_mus > 0.5] = BODY
    # table: two thin curved carbon shells with foam between, below the back, label background
    back = an.y_post + an.musc_post + 0.5 * an.fat
    x = cv.xs[None, :] - an.bx
    top = back + 3 - 0.0006 * x**2
    y = cv.ys[:, None]
    tri = np.clip(1 - np.abs(y - top) / cv.dy, 0, 1) + np.clip(1 - np.abs(y - top - 14) / cv.dy, 0, 1)
    shell = tri * min(2.5 / cv.dy, 1.0)  # 2.5 mm carbon shells: their partial-volume share of a row
    foam = ((y > top) & (y < top + 14)).astype(F32) * 0.05
    prof = (shell * 1150 + foam * 1000) * (np.abs(x) < 210)  # HU above air, [H, W]
    rows = np.nonzero(prof.max(axis=1) > 0)[0]
    if len(rows):
        r0, r1 = rows[0], rows[-1] + 1
        cv.hu[:, r0:r1] += prof[None, r0:r1] * (cv.lab[:, r0:r1] == 0)


def draw_cavity(cv: Canvas, an: Anatomy, tex: np.ndarray, tex_bowel: np.ndarray, fr: tuple[np.ndarray, ...]) -> None:
    """Thoracic cavity: lungs above the diaphragm domes and below the apices; abdomen (fat and bowel) below."""
    lo = (an.bx - an.ac - 5, an.y_post - 2 * an.bc - 5, -1e9)
    b = cv.box(lo, (an.bx + an.ac + 5, an.y_post + 40, 1e9))
    if b is None:
        return
    cav = soft(fr[0][b.sl], F32(cv.px))
    t = tex[b.sl]
    cv.paint(b, cav, an.hu["fat"] + 10 + 8 * t, FAT)  # neck root / mediastinal fat, carved below
    x, y = b.x[0].astype(np.float64), b.y[0].astype(np.float64)  # [1, nx], [ny, 1]
    e = an.extra
    zd = an.dome(x, y, "both")  # [ny, nx]
    right = x < an.bx
    gx = 2 * e["dome_kx"] * np.abs(x - np.where(right, e["dome_x_right"], e["dome_x_left"]))
    gy = 2 * e["dome_ky"] * np.abs(y - e["dome_y"])
    dfd = np.sqrt(cv.thick**2 + (gx**2 + gy**2) * cv.px**2).astype(F32)
    g = b.z - zd.astype(F32)  # height above the diaphragm's lower surface [nz, ny, nx]
    below_top = soft(g - F32(e["tdia"]), dfd)
    cv.paint(b, cav * below_top, F32(an.hu["muscle"]), BODY)  # diaphragm
    abd = cav * soft(g, dfd)
    bowel = 1 / (1 + np.exp(-3.5 * (tex_bowel[b.sl] - 0.35)))
    val = an.hu["fat"] + (an.hu["muscle"] - 12 - an.hu["fat"]) * bowel + 5 * t
    cv.paint(b, abd, val.astype(F32), None)
    lab = cv.lab[b.sl]
    lab[(abd > 0.5) & (bowel > 0.5)] = BODY
    gas = abd * np.clip((t - 1.6) * 3, 0, 1) * (bowel > 0.6)  # gas in a few bowel loops
    cv.paint(b, gas, F32(-950), None)
    # lung apices: blunt cones over each apex (wider front to back), r ~ (depth below the top / k)^(1/1.3)
    ztop = np.where(right, an.z_apex, an.z_apex + e["apex_dz_l"])
    xa = np.where(right, an.bx - e["apex_x"], an.bx + e["apex_x"])
    ya = float(an.cavity(np.array(an.z(0.15)))[2]) + e["apex_dy"]
    r = np.sqrt((x - xa) ** 2 + (0.75 * (y - ya)) ** 2)
    k = e["apex_k"]
    dfa = np.sqrt(cv.thick**2 + (1.3 * k * r**0.3 * cv.px) ** 2).astype(F32)
    cap = soft(b.z - (ztop - k * r**1.3).astype(F32), dfa)
    lung = cav * (1 - below_top) * cap
    y_rel = np.clip(fr[1][b.sl], -1, 1)
    val = an.hu["lung"] + an.hu["lung_grad"] * 0.5 * y_rel + 18 * t
    cv.paint(b, lung, val, None)
    m = lung > 0.5
    lab[m & right[None]] = LUNG_R
    lab[m & ~right[None]] = LUNG_L


def _tilted_axes(long_axis: tuple[float, float, float], roll: float = 0.0) -> np.ndarray:
    """Orthonormal rows: the long axis, then two axes across it (rotated by roll radians about it)."""
    e1 = np.asarray(long_axis, np.float64)
    e1 /= np.linalg.norm(e1)
    ref = np.array([0.0, 1.0, 0.0]) if abs(e1[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e2 = np.cross(e1, ref)
    e2 /= np.linalg.norm(e2)
    e3 = np.cross(e1, e2)
    c, s = np.cos(roll), np.sin(roll)
    return np.stack([e1, c * e2 + s * e3, -s * e2 + c * e3])


def below_dome(cv: Canvas, an: Anatomy, b: Box, side: str = "both", margin: float = 0.0) -> np.ndarray:
    """Coverage of 'under the diaphragm' on a (reduced) box."""
    x, y = b.x[0].astype(np.float64), b.y[0].astype(np.float64)
    zd = an.dome(x, y, side) - margin
    return soft(cv.zs[b.sl[0]][:, None, None] - zd.astype(F32), F32(cv.thick))


def draw_abdomen(
    rng: np.random.Generator, cv: Canvas, an: Anatomy, tex: np.ndarray, fr: tuple[np.ndarray, ...]
) -> None:
    """Liver (with gallbladder), spleen, stomach, kidneys in perirenal fat, psoas; all kept inside the cavity."""
    u, e, hu = rng.uniform, an.extra, an.hu

    def inside(b: Box, margin: float = 1.0) -> np.ndarray:
        return soft(fr[0][b.sl] + F32(margin), F32(cv.px))

    zr, zl = e["dome_z_right"], e["dome_z_left"]
    a_mid, b_mid, yc_mid = (float(v) for v in an.cavity(np.array(zr - 40)))
    # liver: the right upper quadrant under the right dome, left lobe across the midline anteriorly
    h = e["liver_h"]
    c = (an.bx - 0.3 * a_mid, yc_mid, zr - 0.3 * h)
    b, env = cv.ellipsoid(c, (0.95 * a_mid, 1.15 * b_mid, 0.72 * h))
    if b is not None:
        zz = cv.zs[b.sl[0]][:, None, None]
        cav = inside(b, 2.0)
        ant = np.clip((yc_mid - b.y) / b_mid + 0.3, 0, 1.3)  # [1, ny, 1]
        low = ss(0.1, 0.75, (zr - zz) / h)  # left lobe across the midline on top, only the right lobe low down
        x_left = an.bx + a_mid * ((u(0.0, 0.1) + u(0.35, 0.55) * ant) * (1 - low) - 0.3 * low)
        edge = b.x - x_left.astype(F32) - F32(9) * tex[b.sl]  # a wavy left border, not a plane
        alpha = env * cav * soft(edge, F32(cv.px)) * below_dome(cv, an, b, None, e["tdia"])
        cv.paint(b, alpha, hu["liver"] + 2.5 * tex[b.sl], LIVER, ORGAN_T, only=SOFT_ABDOMEN)
    if rng.random() < 0.6:  # gallbladder, bile 0-15 HU, under the liver anteriorly (not a finding)
        gc = (an.bx - u(0.15, 0.35) * a_mid, yc_mid - u(0.3, 0.5) * b_mid, zr - u(0.65, 0.85) * h)
        b, al = cv.ellipsoid(gc, (u(12, 18), u(12, 18), u(25, 40)), _tilted_axes((0.2, -0.4, 1), u(0, 3)))
        if b is not None:
            cv.paint(b, al * inside(b), F32(hu["bile"]), BODY)
    # spleen: posterolateral left, along the ribs
    ang = np.deg2rad(u(-60, -40))
    sc = (an.bx + u(0.62, 0.72) * a_mid, an.y_post - u(0.35, 0.5) * b_mid, zl - u(35, 55))
    axes = np.array([[np.cos(ang), -np.sin(ang), 0.3], [np.sin(ang), np.cos(ang), 0], [-0.3, 0, 1]])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    b, al = cv.ellipsoid(sc, (u(20, 26), u(48, 62), u(40, 55)), axes)
    if b is not None:
        al = al * below_dome(cv, an, b, "left", e["tdia"]) * inside(b)
        cv.paint(b, al, hu["spleen"] + 2 * tex[b.sl], SPLEEN, ORGAN_T + 0.1, only=SOFT_ABDOMEN)  # small: stricter
    # stomach: fluid with an anterior gas cap (supine: gas rises anteriorly)
    st = (an.bx + u(0.2, 0.4) * a_mid, yc_mid - u(0.1, 0.35) * b_mid, zl - u(30, 55))
    rs = np.array([u(30, 48), u(25, 38), u(35, 55)])
    b, al = cv.ellipsoid(st, tuple(rs))
    if b is not None:
        al = al * below_dome(cv, an, b, "left", e["tdia"]) * inside(b)
        cv.paint(b, al, F32(hu["muscle"] - 5), BODY, only=SOFT_ABDOMEN)
        b2, al2 = cv.ellipsoid(st, tuple(rs - 4))
        level, fluid = st[1] - rs[1] + 2 * rs[1] * u(0.0, 0.45), u(8, 30)
        if b2 is not None:
            content = np.where(b2.y < level, F32(-1000), F32(fluid))
            cv.paint(b2, al2 * below_dome(cv, an, b2, "left", e["tdia"] + 4), content, None, only=lut((BODY,)))
    # kidneys in perirenal fat, hilum facing anteromedially
    for side, code in ((-1, KIDNEY_R), (1, KIDNEY_L)):
        kc = (
            an.bx + side * u(0.42, 0.52) * an.ac,
            an.y_post - u(22, 32),
            float(an.z(an.lv["kid_r" if side < 0 else "kid_l"])),
        )
        axes = _tilted_axes((-side * u(0.1, 0.25), u(0.1, 0.25), 1.0), side * np.deg2rad(u(25, 45)))
        rk = np.array([u(48, 58), u(24, 29), u(20, 25)])
        b, al = cv.ellipsoid(kc, tuple(rk + u(4, 11)), axes)
        if b is not None:
            cv.paint(b, al * inside(b), hu["fat"] + 6 * tex[b.sl], FAT, only=SOFT_ABDOMEN)
        b, al = cv.ellipsoid(kc, tuple(rk), axes)
        if b is not None:
            cv.paint(b, al * inside(b, 3.0), hu["kidney"] + 2 * tex[b.sl], code, ORGAN_T + 0.05)
        sinus = np.asarray(kc) + axes[1] * (-side) * 0.55 * rk[1]
        b, al = cv.ellipsoid(tuple(sinus), (rk[0] * 0.45, rk[1] * 0.28, rk[2] * 0.32), axes)
        if b is not None:  # renal sinus: fat with vessels and the collecting system
            cv.paint(b, al, F32(hu["fat"] + 40), FAT, only=lut((code,)))
        an.extra[f"kidney_c_{code}"] = kc[2]
    # psoas muscles, growing below the kidneys' upper poles
    zb = cv.box((an.bx - 70, an.y_post - 60, -1e9), (an.bx + 70, an.y_post + 5, float(an.z(0.8))))
    if zb is not None:
        t = an.t(zb.z)
        r = 4 + 16 * ss(0.8, 1.25, t)
        for side in (-1, 1):
            al = ellipse_cover(zb, an.bx + side * (an.extra["spine_a"] + 4 + r), an.y_post - 22, r, r * 0.9, cv.px)
            cv.paint(zb, al * (t > 0.8), F32(hu["muscle"]), BODY, only=SOFT_ABDOMEN)
