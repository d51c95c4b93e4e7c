"""Fine-tuning shared by every technique: settings, data checks, loss choice, a progress bar.

Each technique takes a :class:`FineTune` (epochs, batch size, optimizer, learning rate, extra
Keras callbacks) and trains with ``model.fit(verbose=0)`` plus a rich progress bar that is only
shown when stderr is a terminal. By default (``epochs=None``) it trains until the accuracy on a
held-out part of the training data stops improving (:mod:`edgekit.optimize.stopping`); a given
number of epochs is an explicit override. TensorFlow/Keras are imported inside functions.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import DataError, ModelError, UsageError


@dataclass
class FineTune:
    """How a technique fine-tunes the model it changed.

    Args:
        epochs: passes over the training data (0: no fine-tuning, the change is one-shot); ``None`` (the
            default): until the held-out score stops improving (early stopping with ``patience``, the
            learning rate halved on plateaus, at most ``max_epochs``, the best epoch's weights restored).
        batch_size: samples per step.
        optimizer: a Keras optimizer instance, or a name (``"adam"``, ``"sgd"``...) built with
            ``learning_rate``; ``None`` means Adam.
        learning_rate: used when ``optimizer`` is a name or ``None``.
        callbacks: extra Keras callbacks passed to ``fit`` (e.g. early stopping, CSV logger).
        loss: a Keras loss; ``None`` chooses sparse/categorical cross-entropy from the labels and
            whether the model ends in a softmax (``from_logits`` otherwise).
        validation_data: ``(x, y)``: the held-out data early stopping watches (default: a seeded
            ``monitor_fraction`` of the training data, then not trained on); with fixed epochs, passed to
            ``fit`` (only reported through callbacks).
        max_epochs: the epoch cap of early stopping.
        min_epochs: early stopping neither stops nor lowers the rate before this many epochs (for training
            from scratch, where BatchNorm's moving statistics lag and held-out accuracy starts late).
        patience: epochs without a better held-out score before stopping (the rate halves after half of them).
        monitor_fraction: the share of the training data held out for early stopping.
        seed: seeds Keras/NumPy/TF before training so runs repeat (``None``: leave the seeds alone).
        progress: show a progress bar (only when stderr is a terminal).
    """

    epochs: int | None = None
    batch_size: int = 32
    optimizer: Any = None
    learning_rate: float = 1e-3
    callbacks: list[Any] = field(default_factory=list)
    loss: Any = None
    validation_data: tuple[Any, Any] | None = None
    seed: int | None = 0
    progress: bool = True
    max_epochs: int = 60
    min_epochs: int = 0
    patience: int = 4
    monitor_fraction: float = 0.15

    def __post_init__(self) -> None:
        if self.epochs is not None and (not isinstance(self.epochs, int) or isinstance(self.epochs, bool)
                                        or self.epochs < 0):
            raise UsageError(f"epochs: must be an integer >= 0 (or None: until held-out accuracy stops improving), "
                             f"got {self.epochs!r}")
        for name in ("max_epochs", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{name}: must be an integer >= 1, got {value!r}")
        if not isinstance(self.min_epochs, int) or isinstance(self.min_epochs, bool) or self.min_epochs < 0:
            raise UsageError(f"min_epochs: must be an integer >= 0, got {self.min_epochs!r}")
        if not (isinstance(self.monitor_fraction, (int, float)) and 0 < self.monitor_fraction < 1):
            raise UsageError(f"monitor_fraction: must be a number in (0, 1), got {self.monitor_fraction!r}")
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise UsageError(f"batch_size: must be an integer >= 1, got {self.batch_size!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise UsageError(f"learning_rate: must be a number in (0, 10), got {self.learning_rate!r}")


def import_keras() -> Any:
    """Import Keras (TensorFlow backend) with TensorFlow's start-up log lines kept quiet."""
    if "keras" not in sys.modules:  # TensorFlow first (Keras' backend), its absl/oneDNN start-up lines swallowed
        from edgekit._tf_convert import import_tensorflow

        import_tensorflow()
    import keras

    return keras


def load_keras(path: str | os.PathLike, what: str = "model") -> Any:
    """Load a ``.keras``/``.h5`` model (ModelError naming the file if it cannot be loaded)."""
    from pathlib import Path

    keras = import_keras()
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{what}: {p}: no such file", hint="pass a .keras or .h5 model file")
    if p.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise ModelError(f"{what}: {p}: not a Keras model file (expected .keras or .h5, got {p.suffix or 'none'!r})",
                         hint="optimize works on the Keras model, before conversion to .tflite")
    try:
        return keras.models.load_model(p, compile=False)
    except Exception as exc:  # Keras raises ValueError/OSError/zipfile errors for bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"{what}: {p}: cannot load the model ({first})",
                         hint="custom layers? load it yourself and pass the model object to the Python API") from None


def check_model(model: Any, what: str = "model") -> Any:
    """A Keras model with a defined, single input (Sequential or functional); loads a path."""
    keras = import_keras()
    if isinstance(model, (str, os.PathLike)):
        model = load_keras(model, what)
    if not isinstance(model, keras.Model):
        raise ModelError(f"{what}: expected a Keras model or a .keras/.h5 file, got {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ModelError(f"{what} {model.name!r} has no defined input (a subclassed or unbuilt model)",
                         hint="build it with keras.Input(shape=...) (functional or Sequential model)")
    if len(inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{what} {model.name!r} has {len(inputs)} inputs and {len(model.outputs)} outputs; "
                         "only single-input, single-output models are supported")
    return model


def sample_shape(model: Any) -> tuple[int, ...]:
    """One sample's input shape (without the batch dimension)."""
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ModelError(f"model {model.name!r}: input shape {shape} has unknown dimensions",
                         hint="give the model a fixed input shape, e.g. keras.Input(shape=(96, 96, 3))")
    return tuple(int(d) for d in shape)


def check_data(model: Any, x: Any, y: Any, *, need_labels: bool, what: str = "data",
               why: str = "fine-tuning") -> tuple[np.ndarray, np.ndarray | None]:
    """Validate training inputs (float32, the model's input shape) and labels (one per sample)."""
    from edgekit.data import collect_samples, load_array_file

    if isinstance(x, (str, os.PathLike)):
        x, y_file = load_array_file(x, what)
        y = y if y is not None else y_file
    if x is None:
        raise DataError(f"{what}: no training data given", hint=f"pass x (and labels y) for {why}")
    xs = collect_samples(x, what=what, sample_shape=sample_shape(model))
    if y is None:
        if need_labels:
            raise DataError(f"{what}: labels are needed for {why}, but the data has none",
                            hint="pass labels (y=...), or an .npz written with numpy.savez(path, x=..., y=...)")
        return xs, None
    ys = np.asarray(y)
    if ys.dtype.kind not in "biuf":
        raise DataError(f"{what}: labels must be numbers, got {ys.dtype} values")
    if len(ys) != len(xs):
        raise DataError(f"{what}: {len(ys)} labels for {len(xs)} samples",
                        hint="give one label (class id or one-hot row) per sample")
    if not np.all(np.isfinite(ys)):
        raise DataError(f"{what}: labels contain NaN or inf")
    return xs, ys


def output_kind(model: Any) -> str:
    """``"probabilities"`` when the model ends in a softmax (layer or activation), ``"sigmoid"``, else ``"logits"``."""
    keras = import_keras()
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Softmax) or act is keras.activations.softmax:
        return "probabilities"
    if act is keras.activations.sigmoid:
        return "sigmoid"
    return "logits"


def default_loss(model: Any, y: np.ndarray) -> Any:
    """Cross-entropy matching the labels (class ids or one-hot) and the model's output (softmax or logits)."""
    keras = import_keras()
    kind = output_kind(model)
    out_dim = int(model.outputs[0].shape[-1] or 0)
    if kind == "sigmoid":
        return keras.losses.BinaryCrossentropy()
    logits = kind == "logits"
    if y.ndim >= 2 and y.shape[-1] == out_dim and out_dim > 1:
        return keras.losses.CategoricalCrossentropy(from_logits=logits)
    if y.dtype.kind in "biu" or np.all(np.equal(np.mod(y, 1), 0)):
        if out_dim > 1 and (y.min() < 0 or y.max() >= out_dim):
            raise DataError(f"labels: class ids must be in [0, {out_dim - 1}] for a model with {out_dim} outputs, "
                            f"got values from {y.min()} to {y.max()}")
        return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    return keras.losses.MeanSquaredError()


def make_optimizer(ft: FineTune) -> Any:
    """The optimizer ``ft`` asks for (a fresh one unless an instance was given)."""
    keras = import_keras()
    if ft.optimizer is None:
        return keras.optimizers.Adam(ft.learning_rate)
    if isinstance(ft.optimizer, str):
        try:
            return keras.optimizers.get({"class_name": ft.optimizer, "config": {"learning_rate": ft.learning_rate}})
        except ValueError:
            raise UsageError(f"optimizer: {ft.optimizer!r} is not a Keras optimizer",
                             hint="use adam, sgd, rmsprop, adamw, ... or pass an optimizer instance") from None
    return ft.optimizer


def seed_everything(seed: int | None) -> None:
    """Seed Python, NumPy and the backend (repeatable fine-tuning)."""
    if seed is not None:
        import_keras().utils.set_random_seed(seed)


def monitor_data(x: np.ndarray, y: Any, ft: FineTune) -> tuple[np.ndarray, Any, np.ndarray, Any]:
    """``(x_train, y_train, x_monitor, y_monitor)`` for early stopping: ``ft.validation_data`` or a held-out split."""
    from edgekit.optimize.stopping import split_monitor

    if ft.validation_data is not None:
        return x, y, np.asarray(ft.validation_data[0]), np.asarray(ft.validation_data[1])
    return split_monitor(x, None if y is None else np.asarray(y), ft.monitor_fraction, ft.seed)


def fit(model: Any, x: np.ndarray, y: Any, ft: FineTune, *, what: str, callbacks: list[Any] | None = None,
        loss: Any = None, compile_model: bool = True, eval_model: Any = None,
        monitor: tuple[np.ndarray, Any] | None = None) -> Any:
    """Compile (unless told not to) and train ``model``; returns a :class:`~edgekit.optimize.stopping.FitRecord`.

    With ``ft.epochs`` set: exactly that many epochs. With ``ft.epochs=None``: until the score of
    ``eval_model`` (default ``model``) on the held-out ``monitor`` data (default: :func:`monitor_data`)
    stops improving, then the best epoch's weights are restored.
    """
    from edgekit.optimize.stopping import FitRecord, best_callback

    if ft.epochs == 0:
        return FitRecord("fixed", stopped="no fine-tuning (epochs = 0)")
    seed_everything(ft.seed)
    cbs = list(callbacks or []) + list(ft.callbacks)
    if ft.epochs is None:
        if monitor is None:
            x, y, xm, ym = monitor_data(x, y, ft)
        else:
            xm, ym = monitor
        record = FitRecord("early_stopping", monitor_samples=len(xm))
        cbs.append(best_callback(eval_model if eval_model is not None else model, xm, np.asarray(ym),
                                 output_kind(eval_model if eval_model is not None else model), record, ft.patience,
                                 ft.min_epochs))
        epochs, validation = ft.max_epochs, None
    else:
        record = FitRecord("fixed", epochs_run=ft.epochs, stopped=f"fixed number of epochs ({ft.epochs})")
        epochs, validation = ft.epochs, ft.validation_data
    if compile_model:
        chosen = ft.loss or loss or default_loss(model, np.asarray(y))
        model.compile(optimizer=make_optimizer(ft), loss=chosen, metrics=["accuracy"])
    if ft.progress and sys.stderr.isatty():
        steps = -(-len(x) // ft.batch_size)
        cbs.append(progress_callback(what, epochs, steps))
    model.fit(x, y, epochs=epochs, batch_size=ft.batch_size, shuffle=True, verbose=0, callbacks=cbs,
              validation_data=validation)
    return record


def progress_callback(what: str, epochs: int, steps_per_epoch: int) -> Any:
    """A Keras callback drawing a rich progress bar on stderr (epoch, step, loss)."""
    keras = import_keras()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    class RichProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(what, total=epochs * steps_per_epoch, info="")
            self.epoch = 0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            loss = (logs or {}).get("loss")
            info = f"epoch {self.epoch}/{epochs}" + (f"  loss {float(loss):.4f}" if loss is not None else "")
            self.bar.update(self.task, advance=1, info=info)

        def on_train_end(self, logs: dict | None = None) -> None:
            self.bar.stop()

    return RichProgress()
