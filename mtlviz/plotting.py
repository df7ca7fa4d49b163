"""Plotting helpers: ``plot_x(ax, ...)`` draws and returns its artists, ``update_x(artists, ...)``
moves them (``set_data``) so dashboards redraw without replotting.
"""
from __future__ import annotations

from typing import Dict, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = [
    "episode_mosaic",
    "glyph_sample_sheet",
    "figure_png",
    "freeze_layout",
    "plot_episode_sets",
    "update_episode_sets",
    "COST_COLORS",
    "plot_meta_cost",
    "update_meta_cost",
    "plot_transfer_curves",
    "update_transfer_curves",
    "region_colors",
    "plot_domain_panels",
    "update_domain_panels",
    "image_rows_figure",
    "tinted_mosaic",
    "plot_metalstm_steps",
    "update_metalstm_episode",
    "update_metalstm_step",
    "plot_formula_panels",
    "update_formula_tasks",
    "update_formula_gap",
    "update_formula_objectives",
    "update_formula_theta",
    "plot_update_rules",
    "update_rules_objectives",
    "update_rules_theta",
    "plot_adaptation",
    "update_adaptation",
    "plot_loss_curves",
    "update_loss_curves",
    "plot_history",
    "update_history",
    "plot_query_batch",
    "update_query_batch",
    "plot_layer_bars",
    "update_layer_bars",
    "CLASS_COLOURS",
    "plot_protonet_episode",
    "update_protonet_episode",
    "plot_first_order_panels",
    "STAGE_COLORS",
    "POLICY_COLORS",
    "plot_navigation",
    "update_navigation",
    "plot_navigation_returns",
    "POOL_COLORS",
    "pool_positions",
    "plot_task_pool",
    "update_task_pool",
    "THEMES",
    "use_theme",
]

#: Matplotlib settings per served theme (``python -m mtlviz.serve --theme``): the presenter theme's
#: page is JupyterLab Dark (#111111), and a white figure on it glares on a projector.
THEMES = {
    "default": {},
    "presenter": {
        "figure.facecolor": "#111111", "savefig.facecolor": "#111111", "axes.facecolor": "#1b1b1b",
        "axes.edgecolor": "#bbbbbb", "axes.labelcolor": "#e8e8e8", "text.color": "#e8e8e8",
        "xtick.color": "#d0d0d0", "ytick.color": "#d0d0d0", "grid.color": "#444444",
        "legend.facecolor": "#222222", "legend.edgecolor": "#666666", "legend.framealpha": 0.9,
        "font.size": 11.0,
    },
}

TRUE_COLOR = "#222222"  # on the default theme; on a dark one, the theme's text colour
SUPPORT_COLOR = "#d62728"
STEP_COLORS = {"maml": "#1f77b4", "joint": "#ff7f0e"}


def plot_adaptation(ax: Axes, *, n_max_steps: int, color: str, title: str, ylim=(-6.0, 6.0),
                    show_mean: bool = False, legend=None) -> Dict[str, object]:
    """Axes for one model adapting to a regression task: the true curve, the K support points,
    the prediction before adaptation (θ, dashed) and after each inner step (θ'ₛ, darker with s);
    with ``show_mean``, a legend entry for the family's mean task (drawn by :func:`update_adaptation`).
    ``legend``: None (no legend), "all" (every labelled artist) or the keys of the artists to list
    (for example only the fixed styles, when the adapted curve changes colour).
    """
    artists: Dict[str, object] = {}
    ink = TRUE_COLOR if matplotlib.rcParams["axes.facecolor"] in ("white", "#ffffff") else matplotlib.rcParams["text.color"]
    (artists["true"],) = ax.plot([], [], color=ink, lw=2.0, label="true function")
    (artists["mean"],) = ax.plot([], [], color="#9467bd", lw=1.5, ls=":",
                                 label="mean task E[y|x]" if show_mean else "_nolegend_")
    artists["mean"].set_visible(show_mean)  # visible when the legend is made, or its handle stays blank
    (artists["before"],) = ax.plot([], [], color="#7f7f7f", lw=1.5, ls="--", label="before adaptation (θ)")
    base = np.array(to_rgba(color))
    artists["steps"] = []
    for step in range(1, n_max_steps + 1):
        rgba = base.copy()
        rgba[3] = 0.25 + 0.5 * step / n_max_steps
        (line,) = ax.plot([], [], color=rgba, lw=1.0)
        artists["steps"].append(line)
    (artists["after"],) = ax.plot([], [], color=color, lw=2.5, label="after adaptation (θ')")
    (artists["support"],) = ax.plot([], [], "o", color=SUPPORT_COLOR, ms=6, zorder=5, label="support points (K)")
    artists["message"] = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", fontsize=11,
                                 color="#8b0000", bbox=dict(facecolor="white", edgecolor="#8b0000", alpha=0.9))
    artists["message"].set_visible(False)
    ax.set_title(title)
    ax.set_xlim(-5, 5)
    ax.set_ylim(*ylim)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    if legend is not None:
        handles = {} if legend == "all" else {"handles": [artists[key] for key in legend]}
        ax.legend(**handles, loc="lower left", fontsize=7, framealpha=0.8)
    return artists


def update_adaptation(artists, x_grid, y_true, x_support, y_support, predictions: Sequence[np.ndarray],
                      message: str = "", y_mean=None) -> None:
    """Show ``predictions`` = [f_θ(x), f_θ'₁(x), …] on ``x_grid``; a non-empty ``message``
    replaces the predictions (used when adaptation diverged); ``y_mean``, the family's mean task,
    is drawn dotted when given."""
    artists["true"].set_data(x_grid, y_true)
    if y_mean is not None:
        artists["mean"].set_data(x_grid, y_mean)
    artists["mean"].set_visible(y_mean is not None)
    artists["support"].set_data(x_support, y_support)
    show = not message
    artists["before"].set_data(x_grid, predictions[0])
    artists["before"].set_visible(show)
    n_steps = len(predictions) - 1
    for step, line in enumerate(artists["steps"], start=1):
        visible = show and step < n_steps
        line.set_visible(visible)
        if visible:
            line.set_data(x_grid, predictions[step])
    artists["after"].set_visible(show and n_steps > 0)
    if n_steps > 0:
        artists["after"].set_data(x_grid, predictions[-1])
    artists["message"].set_text(message)
    artists["message"].set_visible(bool(message))


def plot_loss_curves(ax: Axes, *, n_max_steps: int, labels: Dict[str, str], ylim=(1e-3, 1e2), colors=None,
                     title: str = "query loss vs inner step", legend_loc: str = "upper right",
                     legend_size: float = 8) -> Dict[str, object]:
    """Query loss against inner step, one line per model (keys of ``labels``, coloured by ``colors``
    or :data:`STEP_COLORS`), on fixed log axes (fixed so the reader compares heights across settings,
    and so the axes can be cached)."""
    artists = {}
    colors = STEP_COLORS if colors is None else colors
    for key, label in labels.items():
        (artists[key],) = ax.plot([], [], "o-", color=colors.get(key), ms=4, label=label)
    ax.set_xlim(-0.3, n_max_steps + 0.3)
    ax.set_yscale("log")
    ax.set_ylim(*ylim)
    ax.set_xlabel("inner step")
    ax.set_ylabel("query MSE")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc, fontsize=legend_size)
    return artists


def update_loss_curves(artists, losses: Dict[str, np.ndarray]) -> None:
    """Set each model's loss curve; non-finite values are left out."""
    for key, values in losses.items():
        values = np.asarray(values, dtype=float)
        keep = np.isfinite(values)
        artists[key].set_data(np.arange(len(values))[keep], values[keep])


def plot_history(ax: Axes) -> Dict[str, object]:
    """The meta-loss during outer-loop training: raw per step and a running mean."""
    artists = {}
    (artists["raw"],) = ax.plot([], [], color="#aec7e8", lw=0.8, label="meta-loss per outer step")
    (artists["smooth"],) = ax.plot([], [], color=STEP_COLORS["maml"], lw=2.0, label="running mean (100 steps)")
    ax.set_xlabel("outer step")
    ax.set_ylabel("meta-loss (1/N) Σᵢ L_Tᵢ(θ'ᵢ)")
    ax.set_yscale("log")
    # Ticks at 1, 2 and 5 of every decade, labelled plainly: the range update_history sets after a
    # few steps is often less than a decade wide, where powers of ten alone leave no label at all.
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0.1, 10.0)
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return artists


def update_history(artists, history: Sequence[float], n_total: int) -> None:
    """Draw ``history`` (one loss per outer step) on an x axis that spans ``n_total`` steps."""
    values = np.asarray(history, dtype=float)
    steps = np.arange(1, len(values) + 1)
    artists["raw"].set_data(steps, values)
    artists["raw"].axes.set_xlim(0, max(n_total, 1))
    window = 100
    if len(values):
        cumulative = np.cumsum(np.insert(values, 0, 0.0))
        counts = np.minimum(steps, window)
        smooth = (cumulative[steps] - cumulative[steps - counts]) / counts
        artists["smooth"].set_data(steps, smooth)
        ax = artists["raw"].axes
        finite = values[np.isfinite(values) & (values > 0)]
        if len(finite):
            ax.set_ylim(finite.min() / 1.5, finite.max() * 1.5)


def plot_query_batch(ax: Axes, *, sizes: Sequence[int], shipped: Dict[str, float], title: str = "") -> Dict[str, object]:
    """Axes for one episode's query accuracy against how many query images batch norm normalises
    together (log x axis), with the support-set statistics as a dashed line and the ``shipped``
    means over many episodes (``{normalisation: accuracy}``, :data:`mtlviz.nets.NORMALISATIONS`)
    as markers at the two ends; ``title`` above."""
    artists: Dict[str, object] = {}
    (artists["episode"],) = ax.plot([], [], "o-", color=STEP_COLORS["maml"], lw=2.0,
                                    label="this episode: query images normalised b at a time")
    artists["support"] = ax.axhline(np.nan, color=SUPPORT_COLOR, ls="--", lw=1.5,
                                    label="this episode: normalised with the support set's statistics")
    ends = {"one image": sizes[0], "query set": sizes[-1]}
    for name, size in ends.items():
        if name in shipped:
            ax.plot([size], [shipped[name]], "s", color="#7f7f7f", ms=8, zorder=1,
                    label="mean over the shipped episodes" if name == "one image" else "_nolegend_")
    if "support set" in shipped:
        ax.axhline(shipped["support set"], color="#7f7f7f", ls=":", lw=1.2,
                   label="support-set statistics, mean over the shipped episodes")
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), labels=[str(size) for size in sizes])
    ax.minorticks_off()
    ax.set_xlim(sizes[0] * 0.8, sizes[-1] * 1.25)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("query images normalised together (b)")
    ax.set_ylabel("query accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title, fontsize=11)
    return artists


def update_query_batch(artists, sizes: Sequence[int], accuracies: Sequence[float], support_accuracy: float) -> None:
    """Show one episode's accuracies (one per size) and its support-statistics accuracy."""
    artists["episode"].set_data(list(sizes), list(accuracies))
    artists["support"].set_ydata([support_accuracy, support_accuracy])


# -- lesson 01: an episode ------------------------------------------------------------------------
def plot_episode_sets(support_ax: Axes, query_ax: Axes) -> Dict[str, object]:
    """Two image panels, the support set and the query set of one episode (a row per class),
    filled by :func:`update_episode_sets`."""
    artists: Dict[str, object] = {"support_ax": support_ax, "query_ax": query_ax}
    for ax in (support_ax, query_ax):
        ax.set_xticks([])
        ax.set_yticks([])
    artists["support"] = support_ax.imshow(np.zeros((2, 2)), cmap="gray_r", vmin=0, vmax=1)
    artists["query"] = query_ax.imshow(np.zeros((2, 2)), cmap="gray_r", vmin=0, vmax=1)
    return artists


def update_episode_sets(artists, x_support, x_query, *, n_way: int, k_shot: int, n_query: int) -> None:
    """Show one episode's support images ``(N·K, 1, S, S)`` and query images ``(N·M, 1, S, S)``,
    grouped by class, each row labelled with its class label."""
    for key, x, per_class, title in [("support", x_support, k_shot, f"support set: {n_way} classes × K = {k_shot}"),
                                     ("query", x_query, n_query, f"query set: {n_way} classes × {n_query}")]:
        image, ax = artists[key], artists[f"{key}_ax"]
        mosaic = episode_mosaic(x, n_way, per_class)
        image.set_data(np.ma.masked_invalid(mosaic))
        image.set_extent((-0.5, mosaic.shape[1] - 0.5, mosaic.shape[0] - 0.5, -0.5))
        ax.set_xlim(-0.5, mosaic.shape[1] - 0.5)
        ax.set_ylim(mosaic.shape[0] - 0.5, -0.5)
        ax.set_title(title, fontsize=11)
    size = np.asarray(x_support).shape[-1]
    artists["support_ax"].set_yticks([(row + 0.5) * (size + 1) - 1 for row in range(n_way)],
                                     labels=[f"label {row}" for row in range(n_way)], fontsize=8)


def freeze_layout(figure, axes) -> None:
    """Lay ``figure`` out once by its layout engine, as if each of ``axes`` filled its slot, and
    keep that layout from then on.

    For panels whose data change shape (an image mosaic that grows with a slider): a
    constrained layout would run again at every draw (about a third of a draw of lesson 01's
    episode figure), and a layout made around one shape can clip the tick labels of a wider
    one. Laid out with each axes filling its slot, every equal-aspect shape later fits inside
    its slot, its labels and title in the margins kept for them.
    """
    engine = figure.get_layout_engine()
    if engine is None:
        return
    aspects = [ax.get_aspect() for ax in axes]
    for ax in axes:
        ax.set_aspect("auto")
    engine.execute(figure)
    figure.set_layout_engine("none")
    for ax, aspect in zip(axes, aspects):
        ax.set_aspect(aspect)


def episode_mosaic(images, n_way: int, per_class: int, gap: int = 1) -> np.ndarray:
    """Tile an episode's images (``(N·M, 1, S, S)``, grouped by class) into one array: a row per
    class, ``per_class`` images across, separated by ``gap`` pixels of NaN (drawn blank)."""
    images = np.asarray(images, dtype=float)[:, 0]
    size = images.shape[-1]
    mosaic = np.full((n_way * (size + gap) - gap, per_class * (size + gap) - gap), np.nan)
    for index, image in enumerate(images):
        row, col = divmod(index, per_class)
        mosaic[row * (size + gap): row * (size + gap) + size, col * (size + gap): col * (size + gap) + size] = image
    return mosaic


def glyph_sample_sheet(characters_per_script: int = 4, drawings: int = 3, image_size: int = 28, random_state=0):
    """A static figure of the glyph family: one row per script (background scripts first),
    ``characters_per_script`` characters each drawn ``drawings`` times with random distortions.

    Returns a :class:`matplotlib.figure.Figure` (no pyplot state); show it with :func:`figure_png`.
    """
    import torch
    from matplotlib.figure import Figure

    from ._validation import check_int, check_random_state
    from .data.glyphs import BACKGROUND_SCRIPTS, EVALUATION_SCRIPTS, GlyphTasks

    characters_per_script = check_int("characters_per_script", characters_per_script, 1, 12)
    drawings = check_int("drawings", drawings, 1, 8)
    generator = check_random_state(random_state)
    tasks = GlyphTasks("all", image_size=image_size)
    scripts = list(BACKGROUND_SCRIPTS) + list(EVALUATION_SCRIPTS)
    rows, labels = [], []
    for script in scripts:
        members = [i for i, (s, _) in enumerate(tasks.classes) if s == script]
        picks = torch.tensor(members)[torch.randperm(len(members), generator=generator)[:characters_per_script]]
        images = tasks.render(picks.repeat_interleave(drawings), generator)
        # one row: the characters side by side, each with its drawings
        rows.append(episode_mosaic(images, 1, characters_per_script * drawings))
        split = "background" if script in BACKGROUND_SCRIPTS else "evaluation"
        labels.append(f"{script}\n({split})")
    # One image of all rows, NaN (blank) between them, labelled by y ticks: one axes instead of a
    # row of axes per script makes and draws the same sheet in about half the CPU (lesson 01 opens on it).
    gap = max(1, image_size // 4)
    sheet = np.full((len(rows) * (image_size + gap) - gap, rows[0].shape[1]), np.nan)
    for index, row in enumerate(rows):
        sheet[index * (image_size + gap): index * (image_size + gap) + image_size] = row
    figure = Figure(figsize=(1.0 + 0.42 * characters_per_script * drawings, 0.5 * len(scripts)), dpi=100)
    ax = figure.add_subplot()
    ax.imshow(sheet, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([index * (image_size + gap) + (image_size - 1) / 2 for index in range(len(rows))], labels=labels,
                  fontsize=8)
    ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    figure.subplots_adjust(left=0.2, right=0.99, top=0.99, bottom=0.01)
    return figure


# -- lesson 06: transfer curves -------------------------------------------------------------------
#: Lesson 06's colours: the three strategies, and the network diagram's frozen and training blocks.
TRANSFER_COLORS = {"scratch": "#7f7f7f", "feature": "#e6720a", "fine": "#1f77b4", "frozen": "#a6c8e8",
                   "trains": "#f5b041"}


def plot_transfer_curves(curves_ax: Axes, net_ax: Axes, *, shots: Sequence[int], n_blocks: int) -> Dict[str, object]:
    """Target accuracy against K (log axis) for from scratch, feature extraction and fine-tuning,
    faint lines for fine-tuning's other frozen counts, a cursor at the chosen K; beside it the
    network as boxes (input, ``n_blocks`` conv blocks, new head) coloured by whether they learn.
    Filled by :func:`update_transfer_curves`. ``artists["animated"]`` lists the artists that change
    (for blitting), kept current by the update as it replaces the interval bands."""
    colors = TRANSFER_COLORS
    curves_ax.set_xscale("log")
    curves_ax.set_xticks(shots, [str(k) for k in shots])
    curves_ax.minorticks_off()
    curves_ax.set_xlim(shots[0] / 1.25, shots[-1] * 1.25)
    ticks = np.linspace(0.3, 1.0, 8)
    curves_ax.set_ylim(0.3, 1.01)
    curves_ax.set_yticks(ticks, [f"{v:.0%}" for v in ticks])
    curves_ax.grid(alpha=0.3)
    curves_ax.set_xlabel("labelled target images per class (K)")
    curves_ax.set_ylabel("target test accuracy (10 classes; chance 10%)")
    artists: Dict[str, object] = {"curves_ax": curves_ax}
    artists["faint"] = [curves_ax.plot([], [], "-", color=colors["fine"], alpha=0.25, linewidth=1)[0]
                        for _ in range(n_blocks - 1)]
    artists["lines"], artists["bands"] = {}, {}
    for key, style, label in [("scratch", "o--", "from scratch"),
                              ("feature", "s-", f"feature extraction ({n_blocks} blocks frozen)"),
                              ("fine", "o-", "fine-tuning (frozen blocks: slider)")]:
        artists["lines"][key] = curves_ax.plot([], [], style, color=colors[key], linewidth=2.2 if key == "fine" else 1.6,
                                               markersize=5, label=label)[0]
        artists["bands"][key] = None
    artists["cursor"] = curves_ax.axvline(shots[0], color="#d62728", linewidth=1.0)
    artists["here"] = curves_ax.scatter([], [], s=110, facecolors="none", edgecolors="#d62728", linewidths=1.8,
                                        zorder=5)
    curves_ax.plot([], [], "-", color=colors["fine"], alpha=0.25, label="fine-tuning, other frozen counts")
    curves_ax.legend(loc="lower right", fontsize=8)
    artists["title"] = curves_ax.set_title(" ", fontsize=10)

    net_ax.set_xlim(0, 1)
    net_ax.set_ylim(-0.6, n_blocks + 2.3)
    net_ax.axis("off")
    names = ["input image"] + [f"conv block {i + 1}" for i in range(n_blocks)] + ["new output layer"]
    artists["boxes"], artists["box_text"] = [], []
    for row, name in enumerate(names):
        box = FancyBboxPatch((0.08, row - 0.36), 0.84, 0.72, boxstyle="round,pad=0.02", facecolor="white",
                             edgecolor="#555555")
        net_ax.add_patch(box)
        artists["boxes"].append(box)
        artists["box_text"].append(net_ax.text(0.5, row, name, ha="center", va="center", fontsize=9,
                                               color="#1a1a1a"))  # dark ink: the boxes are light in every theme
    artists["net_title"] = net_ax.text(0.5, n_blocks + 1.75, " ", ha="center", va="center", fontsize=10)
    artists["animated"] = (artists["faint"] + list(artists["lines"].values())
                           + [artists["cursor"], artists["here"], artists["title"]]
                           + artists["boxes"] + artists["box_text"] + [artists["net_title"]])
    return artists


def update_transfer_curves(artists, *, curves, faint, k_shot: int, here: Sequence[float], title: str,
                           n_frozen: int, show_fine: bool, net_title: str) -> None:
    """Show ``curves`` = ``{"scratch"|"feature"|"fine": (shots, points)}`` (points with ``mean``,
    ``low``, ``high``; "fine" drawn if ``show_fine``), ``faint`` = the other frozen counts' (shots, points),
    the cursor at ``k_shot`` with a ring at each strategy's accuracy ``here`` there, and the network
    with its lowest ``n_frozen`` blocks frozen."""
    colors, ax, animated = TRANSFER_COLORS, artists["curves_ax"], artists["animated"]
    for key in ("scratch", "feature", "fine"):
        shots, points = curves[key]
        artists["lines"][key].set_data(shots, [p.mean for p in points])
        if artists["bands"][key] is not None:
            artists["bands"][key].remove()
            animated.remove(artists["bands"][key])
        band = ax.fill_between(shots, [p.low for p in points], [p.high for p in points], color=colors[key], alpha=0.13,
                               linewidth=0)
        band.set_animated(True)
        animated.insert(0, band)
        artists["bands"][key] = band
    artists["lines"]["fine"].set_visible(show_fine)
    artists["bands"]["fine"].set_visible(show_fine)
    for line, (shots, points) in zip(artists["faint"], faint):
        line.set_data(shots, [p.mean for p in points])
    artists["cursor"].set_xdata([k_shot, k_shot])
    artists["here"].set_offsets(np.array([(k_shot, value) for value in here]))
    artists["title"].set_text(title)
    boxes = artists["boxes"]
    n_blocks = len(boxes) - 2
    for row, box in enumerate(boxes):
        block = row - 1
        if row == 0:
            box.set_facecolor("#eeeeee")
            continue
        learns = row == len(boxes) - 1 or block >= n_frozen
        box.set_facecolor(colors["trains"] if learns else colors["frozen"])
        if 0 <= block < n_blocks:
            artists["box_text"][row].set_text(f"conv block {block + 1}: {'trains' if learns else 'frozen'}")
    artists["net_title"].set_text(net_title)


# -- lesson 07: domain adaptation -----------------------------------------------------------------
#: Lesson 07's colours: the two moons (class labels) and the two domains.
MOON_COLORS = ("#1f77b4", "#ff7f0e")  # moon 0, moon 1
DOMAIN_COLORS = {"source": "#444444", "target": "#2ca02c"}


def region_colors(p_one: np.ndarray) -> np.ndarray:
    """Decision regions as an RGB image ``(..., 3)`` from p(moon 1) on a grid: pale moon-0 blue
    where it is below 0.5, pale orange above, white near the boundary so that the boundary reads
    as a line."""
    confidence = np.clip(np.abs(p_one - 0.5) * 4.0, 0.0, 1.0)[..., None]  # 0 on the boundary
    pale = [0.55 + 0.45 * np.array(to_rgb(color)) for color in MOON_COLORS]  # tints towards white
    tint = np.where((p_one >= 0.5)[..., None], pale[1], pale[0])
    return 1.0 - confidence * (1.0 - tint)


def plot_domain_panels(region_axes: Sequence[Axes], feature_axes: Sequence[Axes], *, names: Dict[str, str],
                       limit: float, feature_limit: float) -> Dict[str, object]:
    """One column per method (keys of ``names``): its decision regions over the source and target
    points (top, within ±``limit``) and its learned features projected to 2-D (bottom, within
    ±``feature_limit``); one legend below the panels. Filled by :func:`update_domain_panels`;
    ``artists["changing"]`` lists the artists it changes (for blitting)."""
    artists: Dict[str, object] = {"images": {}, "points": {}, "features": {}, "titles": {}, "changing": []}
    for column, method in enumerate(names):
        ax = region_axes[column]
        artists["images"][method] = ax.imshow(np.ones((2, 2, 3)), extent=(-limit, limit, -limit, limit),
                                              origin="lower", interpolation="bilinear")
        source = ax.scatter([], [], s=9, marker="o", linewidths=0)
        target = ax.scatter([], [], s=16, marker="x", linewidths=0.9)
        artists["points"][method] = (source, target)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        artists["titles"][method] = ax.set_title(" \n ", fontsize=10)
        ax = feature_axes[column]
        feature_source = ax.scatter([], [], s=9, marker="o", color=DOMAIN_COLORS["source"], linewidths=0, alpha=0.6)
        feature_target = ax.scatter([], [], s=16, marker="x", color=DOMAIN_COLORS["target"], linewidths=0.9,
                                    alpha=0.8)
        artists["features"][method] = (feature_source, feature_target)
        ax.set_xlim(-feature_limit, feature_limit)
        ax.set_ylim(-feature_limit, feature_limit)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{names[method]}: features $G_f(x)$, PCA to 2-D", fontsize=9)
        artists["changing"] += [artists["images"][method], source, target, feature_source, feature_target,
                                artists["titles"][method]]
    # One legend below the panels: inside an axes, the blitted images would cover it.
    region_axes[0].figure.legend(
        handles=[Line2D([], [], marker="o", linestyle="", color=MOON_COLORS[0], label="source, moon 0"),
                 Line2D([], [], marker="o", linestyle="", color=MOON_COLORS[1], label="source, moon 1"),
                 Line2D([], [], marker="x", linestyle="", color="#777777",
                        label="target (top: colour = true moon, never used in training)"),
                 Line2D([], [], marker="o", linestyle="", color=DOMAIN_COLORS["source"], label="source features"),
                 Line2D([], [], marker="x", linestyle="", color=DOMAIN_COLORS["target"], label="target features")],
        loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    return artists


def update_domain_panels(artists, *, x_source, y_source, x_target, y_target, regions: Dict[str, np.ndarray],
                         source_2d: Dict[str, np.ndarray], target_2d: Dict[str, np.ndarray],
                         titles: Dict[str, str]) -> None:
    """Show the points ``(n, 2)`` coloured by their moon label (0/1), and per method its RGB
    ``regions`` (:func:`region_colors`), projected features and title."""
    source_colors = np.array(MOON_COLORS)[np.asarray(y_source)]
    target_colors = np.array(MOON_COLORS)[np.asarray(y_target)]
    for method, image in artists["images"].items():
        image.set_data(regions[method])
        source, target = artists["points"][method]
        source.set_offsets(x_source)
        source.set_facecolors(source_colors)
        target.set_offsets(x_target)
        target.set_edgecolors(target_colors)
        target.set_facecolors(target_colors)
        feature_source, feature_target = artists["features"][method]
        feature_source.set_offsets(source_2d[method])
        feature_target.set_offsets(target_2d[method])
        artists["titles"][method].set_text(titles[method])


def image_rows_figure(rows: Dict[str, np.ndarray], image_shape=(8, 8), n_images: int = 10):
    """A static figure of small grey images: one row per entry of ``rows`` (row label -> images
    ``(n, H·W)``), the first ``n_images`` of each, framed, with the label above the row. Returns a
    :class:`~matplotlib.figure.Figure`.

    Each row is one image of the row's pictures side by side (white gaps, one frame collection),
    not one axes per picture: a lesson kernel draws it at start, and twenty axes under a
    constrained layout cost about 0.3 CPU-s more (issue 19's start-up budget).
    """
    from matplotlib.collections import PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    height, width = image_shape
    gap = max(1, width // 4)
    stride = width + gap
    figure = Figure(figsize=(0.8 * n_images, 0.95 * len(rows)), dpi=90)
    band = 1.0 / len(rows)
    for row, (name, images) in enumerate(rows.items()):
        ax = figure.add_axes((0.005, 1.0 - (row + 1) * band + 0.06 * band, 0.99, 0.72 * band))
        mosaic = np.full((height, n_images * stride - gap), np.nan)  # NaN: the white gaps
        for column in range(n_images):
            mosaic[:, column * stride: column * stride + width] = np.asarray(images[column]).reshape(image_shape)
        ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        frames = [Rectangle((column * stride - 0.5, -0.5), width, height) for column in range(n_images)]
        ax.add_collection(PatchCollection(frames, facecolor="none", edgecolor="black", linewidth=0.8, clip_on=False))
        ax.set_axis_off()
        ax.set_title(name, loc="left", fontsize=8, pad=2)
    return figure


# -- lesson 05: Meta-LSTM, step by step -----------------------------------------------------------
#: Lesson 05's colours: the three learners, and Meta-LSTM's layers (viridis-like, dark to light).
METHOD_COLORS = {"Meta-LSTM": "#2ca02c", "SGD": "#7f7f7f", "MAML": "#1f77b4"}
LAYER_COLORS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#e6a100"]


def tinted_mosaic(images, correct, n_way: int, per_class: int) -> np.ndarray:
    """Query images ``(N·M, 1, S, S)`` as an RGB mosaic: ink dark, background tinted green where
    ``correct`` (one bool per image) and red where wrong."""
    images = np.asarray(images)
    mosaic = episode_mosaic(images, n_way, per_class)
    ink = np.nan_to_num(mosaic, nan=0.0)
    blank = np.isnan(mosaic)
    size = images.shape[-1]
    tint = np.ones(mosaic.shape + (3,))
    for index, ok in enumerate(correct):
        row, col = divmod(index, per_class)
        color = (0.80, 0.95, 0.80) if ok else (1.0, 0.78, 0.78)
        tint[row * (size + 1): row * (size + 1) + size, col * (size + 1): col * (size + 1) + size] = color
    rgb = tint * (1.0 - ink[..., None])
    rgb[blank] = 1.0
    return rgb


def _show_mosaic(image, ax, rgb: np.ndarray, title: str) -> None:
    image.set_data(rgb)
    image.set_extent((-0.5, rgb.shape[1] - 0.5, rgb.shape[0] - 0.5, -0.5))
    ax.set_xlim(-0.5, rgb.shape[1] - 0.5)
    ax.set_ylim(rgb.shape[0] - 0.5, -0.5)
    ax.set_title(title, fontsize=10)


def plot_metalstm_steps(axes: Dict[str, Axes]) -> Dict[str, object]:
    """Lesson 05's panels (``axes`` keyed "input", "forget", "loss", "accuracy", "support",
    "query"): the support images and Meta-LSTM's answers as image panels; the four curve panels
    are drawn per episode by :func:`update_metalstm_episode` (their number of lines follows the
    learner) and their step markers moved by :func:`update_metalstm_step`."""
    for name in ("support", "query"):
        axes[name].set_xticks([])
        axes[name].set_yticks([])
    return {"axes": axes, "markers": [], "support": axes["support"].imshow(np.ones((2, 2, 3))),
            "query": axes["query"].imshow(np.ones((2, 2, 3)))}


def update_metalstm_episode(artists, comparison, *, n_classes: int, x_support, k_shot: int) -> None:
    """Draw one episode's curves from ``comparison`` (a :class:`~mtlviz.meta.metalstm.EpisodeComparison`:
    Meta-LSTM's gates per layer and step, the three learners' losses and query accuracies; chance
    = 1 / ``n_classes``) and its support images ``(N·K, 1, S, S)``."""
    c, axes = comparison, artists["axes"]
    trace = c.meta_lstm
    steps = np.arange(1, len(trace.input_gate) + 1)
    for key, values, title in [("input", trace.input_gate, "input gate iₜ (learned learning rate)"),
                               ("forget", trace.forget_gate, "forget gate fₜ (1 = keep θ)")]:
        ax = axes[key]
        ax.clear()
        for layer, color, column in zip(trace.layers, LAYER_COLORS, values.T):
            ax.plot(steps, column, "o-", color=color, label=layer, markersize=4)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step t")
        ax.set_xlim(0.5, max(steps[-1], 1) + 0.5)
    axes["input"].axhline(c.sgd_lr, color=METHOD_COLORS["SGD"], linestyle=":", label=f"SGD α = {c.sgd_lr:g}")
    axes["input"].set_yscale("log")
    axes["input"].legend(fontsize=7, ncol=2, loc="best")
    axes["forget"].axhline(1.0, color=METHOD_COLORS["SGD"], linestyle=":")
    ax = axes["loss"]
    ax.clear()
    x = np.arange(len(trace.scores.query_loss))
    ax.plot(x, trace.scores.support_loss, "-", color=METHOD_COLORS["Meta-LSTM"], label="Meta-LSTM support")
    ax.plot(x, trace.scores.query_loss, "--", color=METHOD_COLORS["Meta-LSTM"], label="Meta-LSTM query")
    ax.plot(x, c.sgd.query_loss, "--", color=METHOD_COLORS["SGD"], label=f"SGD query (α = {c.sgd_lr:g})")
    ax.plot(x, c.maml.query_loss, "--", color=METHOD_COLORS["MAML"], label=f"MAML query (α = {c.maml_lr:g})")
    ax.set_yscale("log")
    ax.set_title("cross-entropy loss", fontsize=10)
    ax.set_xlabel("step t")
    ax.legend(fontsize=7)
    ax = axes["accuracy"]
    ax.clear()
    for name, scores in [("Meta-LSTM", trace.scores), ("SGD", c.sgd), ("MAML", c.maml)]:
        ax.plot(x, scores.query_accuracy, "o-", color=METHOD_COLORS[name], label=name, markersize=4)
    ax.set_ylim(-0.03, 1.03)
    ax.axhline(1.0 / n_classes, color="#bbbbbb", linewidth=0.8)
    ax.set_title("query accuracy", fontsize=10)
    ax.set_xlabel("step t")
    ax.legend(fontsize=7, loc="lower right")
    artists["markers"] = [axes[k].axvline(0, color="#d62728", linewidth=1.0)
                          for k in ("input", "forget", "loss", "accuracy")]
    support = episode_mosaic(x_support, n_classes, k_shot)
    grey = np.repeat(1.0 - np.nan_to_num(support, nan=0.0)[..., None], 3, axis=2)  # ink dark on white, as RGB
    _show_mosaic(artists["support"], axes["support"], grey,
                 f"support: {n_classes} new characters × {k_shot}")


def update_metalstm_step(artists, step: int, *, x_query, correct, n_classes: int, n_query: int) -> None:
    """Move the step markers to ``step`` and show the query images ``(N·M, 1, S, S)`` tinted by
    whether Meta-LSTM's answer after that step is ``correct``."""
    for marker in artists["markers"]:
        marker.set_xdata([step, step])
    # The title names the slider's t rather than its value, which the slider and the status line
    # show: a title that stays the same is composited from a cache, not laid out again (5 ms a move).
    _show_mosaic(artists["query"], artists["axes"]["query"], tinted_mosaic(x_query, correct, n_classes, n_query),
                 "Meta-LSTM's answers at step t\n(green right, red wrong)")


# -- lesson 02: the MAML objective of a line, term by term ----------------------------------------
#: Lesson 02's task colours (one per task of the meta-batch, at most six).
TASK_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def plot_formula_panels(axes: Sequence[Axes], *, n_tasks: int, limits, support_sizes: Sequence[int],
                        gap_label: str) -> Dict[str, object]:
    """Lesson 02's four panels for θ = (w, b) within ``limits``: the tasks' support losses with the
    step θ → θ'ᵢ, the joint objective, the MAML objective with −∇θ (second and first order), and the
    distance between the two minima against K (``support_sizes``, log axis; ``gap_label`` names the
    mean curve). Filled by :func:`update_formula_tasks`, :func:`update_formula_gap`,
    :func:`update_formula_objectives` and :func:`update_formula_theta` (``artists["blitted"]``:
    the artists the last one moves)."""
    titles = [r"tasks' support losses $L^{tr}_{T_i}(\theta)$;" "\n" r"arrows $\theta \to \theta'_i$",
              r"joint training: $\Sigma_i\, L^{val}_{T_i}(\theta)\, /\, N$",
              r"MAML: $\Sigma_i\, L^{val}_{T_i}(\theta'_i)\, /\, N$;" "\n" r"arrows $-\nabla_\theta$"]
    for ax, title in zip(axes, titles):
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
        ax.set_aspect("equal")
        ax.set_xlabel("w")
        ax.set_ylabel("b")
        ax.set_title(title, fontsize=10)
    artists: Dict[str, object] = {"axes": axes, "task_artists": [], "contours": {}, "colorbar": None, "gap_band": None}
    axes[0].plot([], [], "k*", ms=10, label="θ (the sliders)")
    axes[0].plot([], [], "o", color="#bbbbbb", mec="k", ms=6, label="θ'ᵢ after one step")
    artists["theta"] = [ax.plot([], [], "k*", ms=13, zorder=6)[0] for ax in axes[:3]]
    artists["adapted"] = axes[0].scatter(np.zeros(n_tasks), np.zeros(n_tasks), c=TASK_COLORS[:n_tasks], s=30, zorder=6,
                                         edgecolors="k")
    artists["task_arrows"] = axes[0].quiver(np.zeros(n_tasks), np.zeros(n_tasks), np.zeros(n_tasks), np.zeros(n_tasks),
                                            color=TASK_COLORS[:n_tasks], angles="xy", scale_units="xy", scale=1,
                                            width=0.008, zorder=5)
    artists["grad_arrows"] = axes[2].quiver(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2),
                                            color=["#d62728", "#ff9896"], angles="xy", scale_units="xy", scale=1,
                                            width=0.012, zorder=5)
    artists["optima"] = {
        "joint": axes[1].plot([], [], "wX", ms=10, mec="k", zorder=4, label="minimum")[0],
        "maml": axes[2].plot([], [], "wX", ms=10, mec="k", zorder=4, label="MAML minimum")[0],
        "joint_on_maml": axes[2].plot([], [], "o", mfc="none", mec="k", mew=1.5, ms=9, zorder=4,
                                      label="joint minimum")[0],
    }
    artists["gap_line"] = axes[2].plot([], [], "k:", lw=1.2, zorder=3)[0]
    axes[2].plot([], [], color="#d62728", lw=3, label="−∇θ second order (exact)")
    axes[2].plot([], [], color="#ff9896", lw=3, label="−∇θ first order (no Hessian)")
    axes[2].legend(loc="lower left", fontsize=6.5, framealpha=0.85)
    axes[1].legend(handles=[artists["optima"]["joint"]], loc="lower left", fontsize=7)
    gap_ax = axes[3]
    gap_ax.set_xscale("log")
    gap_ax.set_xlabel("K (support points per task)")
    gap_ax.set_ylabel(r"$\|\theta_{MAML} - \theta_{joint}\|$")
    gap_ax.set_title("gap between the minima\n(closed form)", fontsize=10)
    gap_ax.set_xticks(support_sizes, [str(k) for k in support_sizes])
    gap_ax.minorticks_off()
    artists["gap_mean"] = gap_ax.plot([], [], "-o", color="#555555", ms=4, label=gap_label)[0]
    artists["gap_here"] = gap_ax.plot([], [], "k*", ms=12, zorder=5, label="these tasks, this K")[0]
    gap_ax.legend(loc="upper right", fontsize=7)
    artists["blitted"] = [*artists["theta"], artists["adapted"], artists["task_arrows"], artists["grad_arrows"]]
    return artists


def update_formula_tasks(artists, grids, optima) -> None:
    """Each task's support-loss contours (``grids``: :func:`mtlviz.meta.landscape.task_loss_grids`)
    and its minimum θ*ᵢ (``optima``, ``(N, 2)``), replacing the previous tasks'; legend tasks first."""
    ax = artists["axes"][0]
    for artist in artists["task_artists"]:
        artist.remove()
    artists["task_artists"] = []
    for i, grid in enumerate(grids):
        levels = np.unique(np.quantile(grid.values, [0.02, 0.1, 0.3]))
        artists["task_artists"].append(ax.contour(grid.w, grid.b, grid.values.T, levels=levels, colors=TASK_COLORS[i],
                                                  linewidths=1.0))
    for i, (w_star, b_star) in enumerate(optima):
        artists["task_artists"].append(ax.plot([w_star], [b_star], "P", color=TASK_COLORS[i], mec="k", ms=9, zorder=4,
                                               label=f"task {i + 1}: minimum θ*" if i == 0 else f"task {i + 1}")[0])
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda j: (not labels[j].startswith("task"), labels[j]))
    ax.legend([handles[j] for j in order], [labels[j] for j in order], loc="lower left", fontsize=6.5,
              framealpha=0.85)


def update_formula_gap(artists, support_sizes, mean, ci95) -> None:
    """The mean distance between the minima against K, with its 95% interval as a band."""
    artists["gap_mean"].set_data(support_sizes, mean)
    if artists["gap_band"] is not None:
        artists["gap_band"].remove()
    artists["gap_band"] = artists["axes"][3].fill_between(support_sizes, mean - ci95, mean + ci95, color="#555555",
                                                          alpha=0.2, lw=0)


def update_formula_objectives(artists, grids, *, maml_optimum, joint_optimum, k_shot: int, gap_here: float,
                              gap_top: float) -> None:
    """Filled contours of the joint and MAML objectives (``grids["joint"]``, ``grids["maml"]``) on
    one colour scale with one colour bar, their closed-form minima joined by a dotted line, this
    K's gap ``gap_here`` on the gap panel, whose y axis ends at ``gap_top`` plus a margin."""
    axes, contours = artists["axes"], artists["contours"]
    # One colour scale for both panels, so that equal colours mean equal loss.
    both = np.concatenate([grids["joint"].values.ravel(), grids["maml"].values.ravel()])
    levels = np.unique(np.quantile(both, np.linspace(0.0, 0.9, 14)))
    for key, ax in [("joint", axes[1]), ("maml", axes[2])]:
        if key in contours:
            contours[key][0].remove()  # the old filled contours; the minimum's marker stays
        grid = grids[key]
        contours[key] = [ax.contourf(grid.w, grid.b, grid.values.T, levels=levels, cmap="viridis_r", extend="max",
                                     zorder=1), artists["optima"][key]]
    maml, joint = maml_optimum, joint_optimum
    artists["optima"]["joint"].set_data([joint[0]], [joint[1]])
    artists["optima"]["maml"].set_data([maml[0]], [maml[1]])
    artists["optima"]["joint_on_maml"].set_data([joint[0]], [joint[1]])
    artists["gap_line"].set_data([joint[0], maml[0]], [joint[1], maml[1]])
    filled = contours["maml"][0]
    if artists["colorbar"] is None:  # one colour bar for both panels: they share the levels
        artists["colorbar"] = axes[1].figure.colorbar(filled, ax=list(axes[1:3]), shrink=0.8, pad=0.02)
        artists["colorbar"].set_label("mean query loss (both panels)", fontsize=8)
    else:
        artists["colorbar"].update_normal(filled)
    artists["gap_here"].set_data([k_shot], [gap_here])
    axes[3].set_ylim(0.0, max(gap_top, gap_here, 0.05) * 1.15)  # α = 0: all zero


def update_formula_theta(artists, w: float, b: float, adapted, meta_gradients) -> None:
    """θ = (w, b) in the three landscapes, the adapted θ'ᵢ (``(N, 2)``) with arrows from θ, and the
    steps −∇θ of ``meta_gradients`` (second order, first order) drawn as directions of one length."""
    for marker in artists["theta"]:
        marker.set_data([w], [b])
    artists["adapted"].set_offsets(adapted)
    n_tasks = len(adapted)
    artists["task_arrows"].set_offsets(np.tile([w, b], (n_tasks, 1)))
    artists["task_arrows"].set_UVC(adapted[:, 0] - w, adapted[:, 1] - b)
    steps = -np.stack(meta_gradients)
    longest = max(np.linalg.norm(steps, axis=1).max(), 1e-12)
    steps = steps / longest * 1.2  # draw directions at a fixed length; the status gives the sizes
    artists["grad_arrows"].set_offsets(np.tile([w, b], (2, 1)))
    artists["grad_arrows"].set_UVC(steps[:, 0], steps[:, 1])


#: Lesson 02's update rules: MAML (second order), first-order MAML, Reptile.
RULE_COLORS = {"maml": "#d62728", "first_order": "#ff9896", "reptile": "#1f77b4"}


def plot_update_rules(axes: Sequence[Axes], *, x, task_curves: Sequence[np.ndarray], task_labels: Sequence[str],
                      limits, joint_optimum) -> Dict[str, object]:
    """Lesson 02's nonlinear panels: the tasks' curves ``task_curves`` on ``x`` with the model at θ,
    then the joint and MAML objectives over θ = (w, b) within ``limits`` = ((w range), (b range))
    with the joint minimum, θ, and the three update rules' steps from θ. Filled by
    :func:`update_rules_objectives` and :func:`update_rules_theta` (``artists["blitted"]``: what
    the latter moves)."""
    curves_ax, joint_ax, maml_ax = axes
    for i, (y, label) in enumerate(zip(task_curves, task_labels)):
        curves_ax.plot(x, y, color=TASK_COLORS[i], lw=1.2, label=label)
    artists: Dict[str, object] = {"axes": axes, "contours": {}, "colorbar": None}
    artists["model_curve"] = curves_ax.plot(x, np.zeros_like(x), "k-", lw=2.2, label="f_θ(x) = w·sin(x − b)")[0]
    curves_ax.set_xlabel("x")
    curves_ax.set_ylabel("y")
    curves_ax.set_ylim(-3.2, 3.2)
    curves_ax.set_title("tasks y = A·sin(x − φ) and the model at θ", fontsize=10)
    curves_ax.legend(loc="lower left", fontsize=6.5, framealpha=0.85, ncol=1)
    for ax, title in [(joint_ax, r"joint training: $\Sigma_i\, L^{val}_{T_i}(\theta)\, /\, N$"),
                      (maml_ax, r"MAML: $\Sigma_i\, L^{val}_{T_i}(\theta'_i)\, /\, N$;" "\n"
                                "steps from θ (directions only, equal lengths)")]:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        ax.set_xlabel("w (amplitude)")
        ax.set_ylabel("b (phase)")
        ax.set_title(title, fontsize=10)
    artists["optima"] = {
        "joint": joint_ax.plot(*joint_optimum, "wX", ms=10, mec="k", zorder=4, label="minimum")[0],
        "maml": maml_ax.plot([], [], "wX", ms=10, mec="k", zorder=4, label="MAML minimum")[0],
        "joint_on_maml": maml_ax.plot(*joint_optimum, "o", mfc="none", mec="k", mew=1.5, ms=9, zorder=4,
                                      label="joint minimum")[0],
    }
    joint_ax.legend(handles=[artists["optima"]["joint"]], loc="lower left", fontsize=7)
    artists["theta"] = [ax.plot([], [], "k*", ms=13, zorder=6)[0] for ax in (joint_ax, maml_ax)]
    artists["step_arrows"] = maml_ax.quiver(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3),
                                            color=list(RULE_COLORS.values()), angles="xy", scale_units="xy", scale=1,
                                            width=0.012, zorder=5)
    step_handles = [maml_ax.plot([], [], color=color, lw=3)[0] for color in RULE_COLORS.values()]
    maml_ax.legend([artists["optima"]["maml"], artists["optima"]["joint_on_maml"], *step_handles],
                   ["MAML minimum", "joint minimum", "MAML step (second order)", "first-order MAML step",
                    "Reptile step (k inner steps)"], loc="lower left", fontsize=6.5, framealpha=0.85)
    artists["blitted"] = [*artists["theta"], artists["step_arrows"], artists["model_curve"]]
    return artists


def update_rules_objectives(artists, grids, maml_optimum) -> None:
    """Filled contours of ``grids["joint"]`` and ``grids["maml"]`` on one colour scale with one
    colour bar, and MAML's minimum."""
    axes, contours = artists["axes"], artists["contours"]
    both = np.concatenate([grids["joint"].values.ravel(), grids["maml"].values.ravel()])
    levels = np.unique(np.quantile(both, np.linspace(0.0, 0.9, 14)))
    for key, ax in [("joint", axes[1]), ("maml", axes[2])]:
        for artist in contours.get(key, []):
            artist.remove()
        grid = grids[key]
        contours[key] = [ax.contourf(grid.w, grid.b, grid.values.T, levels=levels, cmap="viridis_r", extend="max",
                                     zorder=1)]
    artists["optima"]["maml"].set_data([maml_optimum[0]], [maml_optimum[1]])
    filled = contours["maml"][0]
    if artists["colorbar"] is None:
        artists["colorbar"] = axes[1].figure.colorbar(filled, ax=list(axes[1:]), shrink=0.8, pad=0.02)
        artists["colorbar"].set_label("mean query loss (both panels)", fontsize=8)
    else:
        artists["colorbar"].update_normal(filled)


def update_rules_theta(artists, w: float, b: float, model_curve, steps) -> None:
    """θ = (w, b) in both landscapes, the model's curve ``model_curve`` at θ, and the three rules'
    ``steps`` (``(3, 2)``: MAML, first-order MAML, Reptile) from θ as directions of one length."""
    for marker in artists["theta"]:
        marker.set_data([w], [b])
    artists["model_curve"].set_ydata(model_curve)
    steps = np.asarray(steps)
    norms = np.linalg.norm(steps, axis=1, keepdims=True)
    steps = np.where(norms > 1e-12, steps / np.maximum(norms, 1e-12), 0.0) * 0.8  # directions, fixed length
    artists["step_arrows"].set_offsets(np.tile([w, b], (3, 1)))
    artists["step_arrows"].set_UVC(steps[:, 0], steps[:, 1])


def figure_png(figure) -> bytes:
    """Render a :class:`~matplotlib.figure.Figure` to PNG bytes (for ``IPython.display.Image``)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def family_rows(families, n_images: int = 10, random_state=0):
    """A static figure with one row per named episode family: ``n_images`` images of different
    classes (one drawn ``n_images``-way 1-shot episode), to compare what source and target
    domains look like. ``families`` maps a row label to a GlyphTasks/DigitsTasks (same image size)."""
    from matplotlib.figure import Figure

    from ._validation import check_int

    n_images = check_int("n_images", n_images, 2, 10)
    figure = Figure(figsize=(1.6 + 0.55 * n_images, 0.75 * len(families)), dpi=100)
    axes = np.atleast_1d(figure.subplots(len(families), 1))
    for ax, (label, tasks) in zip(axes, families.items()):
        episode = tasks.sample_episodes(1, n_images, 1, 1, random_state=random_state)
        ax.imshow(episode_mosaic(episode.x_support[0], 1, n_images), cmap="gray_r", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        for spine in ax.spines.values():
            spine.set_visible(False)
    figure.subplots_adjust(left=0.3, right=0.99, top=0.98, bottom=0.02, hspace=0.12)
    return figure


def use_theme(name: str) -> None:
    """Style the figures made from now on for a served theme, one of :data:`THEMES` ("default":
    matplotlib's own look; "presenter": light ink on the dark page). Called once by a kernel
    of ``python -m mtlviz.serve --theme presenter`` as it starts, never on import."""
    if name not in THEMES:
        raise ValueError(f"name must be one of {sorted(THEMES)}; got {name!r}")
    themed = {key for theme in THEMES.values() for key in theme}
    matplotlib.rcParams.update({key: matplotlib.rcParamsDefault[key] for key in themed})
    matplotlib.rcParams.update(THEMES[name])


def plot_layer_bars(ax: Axes, layers: Sequence[str], *, ylabel: str, title: str, ylim, color: str = "#1f77b4",
                    shipped: Sequence[float] = None) -> Dict[str, object]:
    """One bar per layer (lesson 09: what MAML's inner loop changes in each layer), heights set by
    :func:`update_layer_bars`; ``shipped`` means over many episodes drawn as grey markers."""
    positions = np.arange(len(layers))
    artists: Dict[str, object] = {"bars": ax.bar(positions, np.zeros(len(layers)), color=color, width=0.6,
                                                 label="this episode")}
    if shipped is not None:
        ax.plot(positions, shipped, "D", color="#7f7f7f", ms=7, zorder=3, label="mean over the shipped episodes")
        ax.legend(loc="upper right", fontsize=8)
    artists["labels"] = [ax.text(p, 0, "", ha="center", va="bottom", fontsize=8) for p in positions]
    ax.set_xticks(positions, labels=list(layers))
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return artists


def update_layer_bars(artists, values: Sequence[float], digits: int = 2) -> None:
    """Set the bars' heights to ``values`` and write each value above its bar."""
    for bar, label, value in zip(artists["bars"], artists["labels"], values):
        bar.set_height(value)
        label.set_y(value)
        label.set_text(f"{value:.{digits}f}")


# -- lesson 12: what a meta-step costs, against the number of inner steps ---------------------------

#: One colour per method of :mod:`mtlviz.meta.cost` (and the plain forward+backward baseline).
COST_COLORS = {"maml": "#1f77b4", "fomaml": "#2ca02c", "reptile": "#d62728", "anil": "#9467bd",
               "metalstm": "#ff7f0e", "protonet": "#8c564b", "plain": "#7f7f7f"}


def plot_meta_cost(time_ax: Axes, memory_ax: Axes, labels: Dict[str, str], flat: Sequence[str] = ()) -> Dict[str, object]:
    """Lesson 12's two panels against the inner steps k: time per meta-step (ms) and the peak
    memory autograd's graph holds (MB), one line per method of ``labels`` (method -> legend label;
    its ``"plain"`` entry is the baseline, a horizontal line, and so is every method of ``flat``,
    measured once because it has no inner loop, dotted); each twice, the shipped measurement
    (solid) and one made here (dashed, empty until :func:`update_meta_cost` gets one)."""
    artists: Dict[str, object] = {"axes": (time_ax, memory_ax), "labels": dict(labels)}
    for key, ax in (("time", time_ax), ("memory", memory_ax)):
        lines = {}
        for method in [m for m in labels if m != "plain"]:
            color = COST_COLORS.get(method, "#000000")
            if method in flat:
                lines[(method, "shipped")] = ax.axhline(np.nan, color=color, lw=1.8, ls=":", label=labels[method])
                lines[(method, "live")] = ax.axhline(np.nan, color=color, lw=1.2, ls="--", alpha=0.8)
                continue
            lines[(method, "shipped")] = ax.plot([], [], "o-", color=color, label=labels[method])[0]
            lines[(method, "live")] = ax.plot([], [], "x--", color=color, alpha=0.8)[0]
        lines[("plain", "shipped")] = ax.axhline(np.nan, color=COST_COLORS["plain"], lw=1.5,
                                                 label=labels["plain"])
        lines[("plain", "live")] = ax.axhline(np.nan, color=COST_COLORS["plain"], lw=1.5, ls="--")
        artists[key] = lines
        ax.set_xlabel("inner steps k (Meta-LSTM: learner updates)")
        ax.grid(alpha=0.3)
    time_ax.set_ylabel("ms per meta-step")
    time_ax.set_title("time (solid: shipped run, dashed: this machine)", fontsize=10)
    memory_ax.set_ylabel("MB held by autograd's graph (peak)")
    memory_ax.set_title("memory kept for the backward pass", fontsize=10)
    memory_ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return artists


def update_meta_cost(artists, shipped, live=None, log_scale: bool = False) -> None:
    """Draw one network's measurement of :func:`mtlviz.meta.cost.measure` (``shipped``, the solid
    lines) and optionally a second one (``live``, dashed; None hides them), on linear or (``log_scale``)
    logarithmic y axes. A method the shipped
    measurement lacks (Meta-LSTM and ProtoNet on the sinusoid) is hidden and left out of the legend;
    a flat method's value is read from the result's ``"no_inner_loop"``."""
    for ax in artists["axes"]:
        ax.set_yscale("log" if log_scale else "linear")
    for which, result in (("shipped", shipped), ("live", live)):
        rows = result["rows"] if result else {}
        once = result.get("no_inner_loop", {}) if result else {}
        for key, field, scale in (("time", "time_ms", 1.0), ("memory", "graph_bytes", 1e-6)):
            for (method, kind), line in artists[key].items():
                if kind != which:
                    continue
                if result is None:
                    line.set_visible(False)
                elif method == "plain" or method in once:
                    value = (result["plain"] if method == "plain" else once[method])[field] * scale
                    line.set_ydata([value, value])
                    line.set_visible(True)
                elif method in rows:
                    line.set_data(rows[method]["steps"], np.asarray(rows[method][field], dtype=float) * scale)
                    line.set_visible(True)
                else:
                    line.set_visible(False)  # an empty plot line or an axhline at NaN: drawn as nothing
    k_label = "inner steps k (Meta-LSTM: learner updates)" if "metalstm" in shipped["rows"] else "inner steps k"
    for ax in artists["axes"]:
        ax.set_xlabel(k_label)
    memory_ax = artists["axes"][1]
    shown = [line for (method, kind), line in artists["memory"].items() if kind == "shipped" and line.get_visible()]
    # beside the panel: no line hidden, any scale; one legend per set of lines, made once (a
    # dashboard blitting it keeps its pixels from one toggle to the next)
    legends = artists.setdefault("legends", {})
    key = tuple(line.get_label() for line in shown)
    if key in legends:
        memory_ax.legend_ = legends[key]
    else:
        legends[key] = memory_ax.legend(handles=shown, labels=list(key), fontsize=8, loc="upper left",
                                        bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    for ax in artists["axes"]:
        ax.relim(visible_only=True)
        ax.set_autoscaley_on(True)  # set_ylim below switched it off: let the next measurement rescale
        ax.autoscale_view()
        if ax.get_yscale() == "linear":  # a log axis keeps its autoscaled, positive bottom
            ax.set_ylim(bottom=0)


# -- lesson 08: an episode in the embedding space of a metric classifier --------------------------

#: One colour per class of an episode (matplotlib's tab10, readable on light and dark pages).
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")


def plot_protonet_episode(images_ax: Axes, map_ax: Axes) -> Dict[str, object]:
    """Lesson 08's two panels: one support image per class (a row each, labelled in its class
    colour), and the episode on the first two principal axes of its embeddings. Their
    artists are made once and set per episode by :func:`update_protonet_episode` (clearing and
    drawing the panels afresh was half of a toggle's kernel time; issue 19)."""
    from matplotlib.collections import LineCollection

    ax = images_ax
    image = ax.imshow(np.zeros((1, 1)), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_title("support (first image\nof each class)", fontsize=10)
    ax = map_ax
    decisions = LineCollection([], linewidths=1, alpha=0.35)  # each query's line to the prototype it is given
    ax.add_collection(decisions, autolim=False)
    empty = np.zeros((0, 2))
    support = ax.scatter(empty[:, 0], empty[:, 1], s=70, edgecolors="black", linewidths=0.6,
                         label="support image f(x)", zorder=3)
    query = ax.scatter(empty[:, 0], empty[:, 1], s=55, marker="^", edgecolors="black", linewidths=0.4,
                       label="query image (colour: class given)", zorder=3)
    wrong = ax.scatter(empty[:, 0], empty[:, 1], s=260, facecolors="none", edgecolors="red", linewidths=2,
                       label="given the wrong class", zorder=4)
    prototypes = ax.scatter(empty[:, 0], empty[:, 1], s=420, marker="*", edgecolors="black", linewidths=1.0,
                            label="prototype $c_k$", zorder=5)
    ax.set_xlabel("1st principal axis of the embeddings")
    ax.set_ylabel("2nd principal axis")
    ax.set_title("the episode in the embedding space (2-D projection)", fontsize=10)
    return {"images": images_ax, "map": map_ax, "image": image, "n_way": None, "decisions": decisions,
            "support": support, "query": query, "wrong": wrong, "prototypes": prototypes}


def update_protonet_episode(artists, x_support, view, *, n_way: int, k_shot: int) -> None:
    """Draw one episode: the first support image of each class (``x_support`` ``(N·K, 1, S, S)``,
    grouped by class) with its class colour, and ``view`` (an
    :class:`~mtlviz.meta.protonet.EmbeddedEpisode`): support embeddings (circles), prototypes c_k
    (stars), query embeddings (triangles, coloured by the class given, a line to that prototype;
    a red ring where that is wrong)."""
    ax = artists["images"]
    first = x_support[::k_shot]  # one support image per class (they are grouped by class)
    mosaic = np.ma.masked_invalid(episode_mosaic(first, n_way, 1))
    artists["image"].set_data(mosaic)
    artists["image"].set_extent((-0.5, mosaic.shape[1] - 0.5, mosaic.shape[0] - 0.5, -0.5))
    if artists["n_way"] != n_way:  # the class labels, in their colours
        side = x_support.shape[-1]
        ax.set_yticks([(row + 0.5) * (side + 1) - 1 for row in range(n_way)],
                      labels=[f"class {k}" for k in range(n_way)], fontsize=9)
        for label, colour in zip(ax.get_yticklabels(), CLASS_COLOURS):
            label.set_color(colour)
            label.set_fontweight("bold")
        artists["n_way"] = n_way

    ax = artists["map"]
    colours = np.array(CLASS_COLOURS)
    support, query, centres = view.support_2d.numpy(), view.query_2d.numpy(), view.prototypes_2d.numpy()
    predicted, truth = view.predicted.numpy(), view.y_query.numpy()
    artists["decisions"].set_segments([[q, centres[k]] for q, k in zip(query, predicted)])
    artists["decisions"].set_color(colours[predicted])
    artists["support"].set_offsets(support)
    artists["support"].set_facecolor(colours[view.y_support.numpy()])
    artists["query"].set_offsets(query)
    artists["query"].set_facecolor(colours[predicted])
    wrong = predicted != truth
    artists["wrong"].set_offsets(query[wrong].reshape(-1, 2))
    artists["prototypes"].set_offsets(centres)
    artists["prototypes"].set_facecolor(colours[: len(centres)])
    ax.ignore_existing_data_limits = True
    ax.update_datalim(np.concatenate([support, query, centres]))
    ax.autoscale_view()
    shown = [artists[key] for key in ("support", "query", "wrong", "prototypes") if key != "wrong" or wrong.any()]
    ax.legend(handles=shown, loc="best", fontsize=8, framealpha=0.8)


# -- lesson 09: several sinusoid models adapting to the same task ---------------------------------

def plot_first_order_panels(axes: Sequence[Axes], names: Sequence[str], *, n_max_steps: int,
                            colors: Dict[str, str]) -> Dict[str, object]:
    """Lesson 09's panels: one :func:`plot_adaptation` panel per model in ``names`` (coloured by
    ``colors``, the first with the legend) and, on the last of ``axes``, their query losses
    (:func:`plot_loss_curves`). Returns ``{"panels": {name: artists}, "losses": artists}``, set by
    :func:`update_adaptation` and :func:`update_loss_curves`."""
    panels = {name: plot_adaptation(ax, n_max_steps=n_max_steps, color=colors.get(name, "#1f77b4"), title=name)
              for name, ax in zip(names, axes)}
    axes[0].legend(loc="lower left", fontsize=7)
    losses = plot_loss_curves(axes[-1], n_max_steps=n_max_steps, labels={name: name for name in names})
    for name, line in losses.items():
        line.set_color(colors.get(name, line.get_color()))
    axes[-1].legend(loc="upper right", fontsize=8)
    return {"panels": panels, "losses": losses}


# -- lesson 10: the point robot adapting to a goal -------------------------------------------------

#: Colours of the rollouts before the inner step and after 1, 2, 3 steps (light to dark).
STAGE_COLORS = ("#9e9e9e", "#9ecae1", "#4292c6", "#08306b")
POLICY_COLORS = {"MAML": "#d62728", "pretrained": "#1f77b4", "random init": "#7f7f7f"}


def _stage_label(stage: int) -> str:
    return "before adapting" if stage == 0 else f"after {stage} step{'s' if stage > 1 else ''}"


def plot_navigation(planes: Dict[str, Axes], returns_ax: Axes, *, view: float, arena: float, n_steps: int,
                    n_rollouts: int) -> Dict[str, object]:
    """Lesson 10's panels: one plane per policy (``planes``, keyed by its name) showing the arena
    [-``arena``, ``arena``]², the start, ``n_rollouts`` paths per stage (before adapting and after
    each of ``n_steps`` steps) and the goal, on [-``view``, ``view``]²; and ``returns_ax``, the
    average return after each step per policy. Set by :func:`update_navigation`."""
    from matplotlib.patches import Rectangle

    lines, goals, starts = {}, {}, {}
    for name, ax in planes.items():
        ax.set_xlim(-view, view)
        ax.set_ylim(-view, view)
        ax.set_aspect("equal")
        ax.add_patch(Rectangle((-arena, -arena), 2 * arena, 2 * arena, fill=False, linestyle="--",
                               edgecolor="#888888", linewidth=1.0, label="arena (goals)"))
        starts[name] = ax.plot([0], [0], marker="o", color="black", markersize=5, zorder=5)[0]
        ax.set_title(name)
        ax.set_xlabel("x")
        lines[name] = [[ax.plot([], [], color=STAGE_COLORS[stage], lw=1.3 if stage else 0.9,
                                alpha=0.9, label=_stage_label(stage) if r == 0 else None)[0]
                        for r in range(n_rollouts)] for stage in range(n_steps + 1)]
        goals[name] = ax.plot([], [], marker="*", color="#ff7f0e", markersize=16,
                              markeredgecolor="black", zorder=6, label="goal")[0]
    first = next(iter(planes.values()))
    first.set_ylabel("y")
    first.legend(loc="lower left", fontsize=7, framealpha=0.85)
    returns_ax.set_xlabel("policy-gradient steps on this goal")
    returns_ax.set_ylabel("average return (20 rollouts)")
    returns_ax.set_xticks(range(n_steps + 1))
    returns_ax.set_title("return after each step")
    returns = {name: returns_ax.plot([], [], marker="o", color=POLICY_COLORS.get(name, None), label=name)[0]
               for name in planes}
    returns_ax.legend(loc="lower right", fontsize=8)
    returns_ax.grid(alpha=0.3)
    return {"lines": lines, "starts": starts, "goals": goals, "returns": returns, "returns_ax": returns_ax}


def update_navigation(artists, paths: Dict[str, np.ndarray], returns: Dict[str, np.ndarray],
                      goal: Sequence[float]) -> None:
    """Show each policy's ``paths`` ``(stages, rollouts, time, 2)`` (the first rollouts of each
    stage), its average ``returns`` per stage and the ``goal`` (x, y); rescale the returns panel."""
    x, y = goal
    for name, stages in paths.items():
        for lines, stage_paths in zip(artists["lines"][name], stages):
            for line, path in zip(lines, stage_paths):
                line.set_data(path[:, 0], path[:, 1])
        artists["goals"][name].set_data([x], [y])
        artists["returns"][name].set_data(np.arange(len(returns[name])), returns[name])
    artists["returns_ax"].relim()
    artists["returns_ax"].autoscale_view()


def plot_navigation_returns(ax: Axes, figure_data, names: Dict[str, str]) -> None:
    """The shipped comparison (``load_figure("navigation_adaptation")``): average return against
    policy-gradient steps, mean over the goals with its 95% interval, one line per key of ``names``
    (labelled by its value, coloured by :data:`POLICY_COLORS`), on a symlog scale."""
    for key, label in names.items():
        mean = np.asarray(figure_data[key]["mean"])
        half = np.asarray(figure_data[key]["ci95"])
        steps = np.arange(len(mean))
        ax.errorbar(steps, mean, yerr=half, marker="o", capsize=3, label=label, color=POLICY_COLORS[label])
    ax.set_xticks(range(len(mean)))
    ax.set_xlabel("number of policy-gradient steps")
    ax.set_yscale("symlog", linthresh=10.0)  # as the paper's figure 4 (top): returns span two decades
    ax.set_ylabel("average return (symlog scale)")
    ax.set_title(f"point robot: {figure_data['n_goals']} new goals (mean ± 95% CI)")
    ax.legend()
    ax.grid(alpha=0.3)


# -- lesson 11: how many tasks does meta-learning need? --------------------------------------------

#: (kind, where) -> colour and style of lesson 11's curves over the pool size T.
POOL_COLORS = {("maml", "pool"): ("#1f77b4", "--"), ("maml", "fresh"): ("#1f77b4", "-"),
               ("joint", "pool"): ("#ff7f0e", "--"), ("joint", "fresh"): ("#ff7f0e", "-")}
_POOL_NAMES = {"maml": "MAML", "joint": "pretrained", "pool": "its own T tasks", "fresh": "600 new tasks"}


def pool_positions(labels: Sequence[str]) -> np.ndarray:
    """Where each pool size sits on lesson 11's T axis: log10 T, and "inf" (T = ∞) one decade past
    the largest finite T."""
    finite = [np.log10(float(label)) for label in labels if label != "inf"]
    end = (max(finite) if finite else 0.0) + 1.0
    return np.array([end if label == "inf" else np.log10(float(label)) for label in labels])


def plot_task_pool(curve_ax: Axes, fresh_ax: Axes, pool_ax: Axes, *, labels: Sequence[str],
                   n_max_steps: int) -> Dict[str, object]:
    """Lesson 11's panels: on ``curve_ax`` the query MSE after adaptation against the pool size T
    (one line and 95% band per model and task set, :data:`POOL_COLORS`; T on a log axis with ∞ at the
    end; a vertical line marks the selected T), and two :func:`plot_adaptation` panels, a new task
    and one of the pool's tasks. Set by :func:`update_task_pool` and :func:`update_adaptation`."""
    positions = pool_positions(labels)
    artists: Dict[str, object] = {"positions": positions, "labels": list(labels), "curve_ax": curve_ax,
                                  "lines": {}, "bands": {}}
    for (kind, where), (color, style) in POOL_COLORS.items():
        (artists["lines"][(kind, where)],) = curve_ax.plot([], [], style, marker="o", ms=4, color=color,
                                                          label=f"{_POOL_NAMES[kind]}, {_POOL_NAMES[where]}")
        artists["bands"][(kind, where)] = curve_ax.fill_between(positions, positions * 0 + 1, positions * 0 + 1,
                                                                color=color, alpha=0.15, lw=0)
    artists["marker"] = curve_ax.axvline(positions[0], color="#2ca02c", lw=6, alpha=0.3)
    curve_ax.set_xticks(positions)
    curve_ax.set_xticklabels(["∞" if label == "inf" else label for label in labels])
    curve_ax.set_xlim(positions[0] - 0.2, positions[-1] + 0.2)
    curve_ax.set_yscale("log")
    curve_ax.set_ylim(1e-5, 2e1)  # MAML on one task fits it to about 3e-5 before any step
    curve_ax.set_xlabel("T, meta-training tasks (log scale)")
    curve_ax.set_ylabel("query MSE after adaptation")
    curve_ax.grid(alpha=0.3)
    curve_ax.legend(loc="lower right", fontsize=7, framealpha=0.8)
    artists["fresh"] = plot_adaptation(fresh_ax, n_max_steps=n_max_steps, color=STEP_COLORS["maml"], title="",
                                       legend=("true", "before", "after", "support"))
    artists["pool"] = plot_adaptation(pool_ax, n_max_steps=n_max_steps, color=STEP_COLORS["maml"], title="")
    artists["fresh_ax"], artists["pool_ax"] = fresh_ax, pool_ax
    return artists


def update_task_pool(artists, results: Dict[str, dict], *, step: int, selected: str, fresh_title: str,
                     pool_title: str) -> None:
    """Draw the shipped ``results`` (``task_pool.json``'s, ``{kind: {label: {where: {"mean", "ci95"}}}}``)
    after ``step`` inner steps, mark the pool size ``selected`` and title the two task panels."""
    positions, labels = artists["positions"], artists["labels"]
    for (kind, where), line in artists["lines"].items():
        mean = np.array([results[kind][label][where]["mean"][step] for label in labels])
        half = np.array([results[kind][label][where]["ci95"][step] for label in labels])
        line.set_data(positions, mean)
        low, high = np.maximum(mean - half, 1e-6), mean + half
        artists["bands"][(kind, where)].set_verts(
            [np.column_stack([np.r_[positions, positions[::-1]], np.r_[low, high[::-1]]])])
    where = positions[labels.index(selected)]
    artists["marker"].set_xdata([where, where])
    artists["curve_ax"].set_title(f"after {step} inner step{'s' if step != 1 else ''} (K = 5, α = 0.01)")
    artists["fresh_ax"].set_title(fresh_title, fontsize=10)
    artists["pool_ax"].set_title(pool_title, fontsize=10)
