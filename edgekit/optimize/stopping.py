"""Fine-tuning until held-out accuracy stops improving: the monitor split, the score, the callback, the record.

When :class:`~edgekit.optimize.finetune.FineTune` has ``epochs=None`` (the default), every technique
fine-tunes like this:

* a seeded ``monitor_fraction`` of the training samples is held out (never trained on) unless
  ``validation_data`` is given; the accuracy on it (classification; the negative mean squared error
  for regression) is the score, the held-out loss breaks ties;
* after ``patience // 2`` epochs without a better score the learning rate is halved (a plateau
  schedule); after ``patience`` epochs without one, training stops;
* at most ``max_epochs`` epochs; the weights of the best epoch are restored at the end.

:class:`FitRecord` says what happened (epochs run, best epoch, why it stopped, the score per epoch);
the techniques put it in their report ``details``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MIN_MONITOR = 10  # fewer held-out samples than this: monitor the training data instead (noted)


@dataclass
class FitRecord:
    """What one fine-tuning run did (JSON-ready through ``dataclasses.asdict``)."""

    mode: str  # "fixed" (epochs given) or "early_stopping"
    epochs_run: int = 0
    best_epoch: int | None = None
    best_score: float | None = None
    stopped: str = ""
    monitor_samples: int = 0
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: epoch, score, loss, lr


def split_monitor(x: np.ndarray, y: np.ndarray | None, fraction: float,
                  seed: int | None = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """``(x_train, y_train, x_monitor, y_monitor)``: a seeded ``fraction`` of the samples held out.

    With too few samples to spare ``MIN_MONITOR`` of them, the monitor set is the training set itself.
    """
    n_mon = round(fraction * len(x))
    if n_mon < MIN_MONITOR or len(x) - n_mon < MIN_MONITOR:
        return x, y, x, y
    order = np.random.default_rng(0 if seed is None else seed).permutation(len(x))
    mon, train = np.sort(order[:n_mon]), np.sort(order[n_mon:])
    return x[train], (y[train] if y is not None else None), x[mon], (y[mon] if y is not None else None)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def held_out_score(pred: np.ndarray, y: np.ndarray, kind: str) -> tuple[float, float]:
    """``(score, loss)`` of predictions: accuracy and cross-entropy for classifiers, ``-MSE`` and MSE otherwise.

    ``kind`` is :func:`~edgekit.optimize.finetune.output_kind`'s answer (``probabilities``, ``logits``, ``sigmoid``).
    """
    pred = np.asarray(pred, np.float64).reshape(len(y), -1)
    y = np.asarray(y)
    if kind == "sigmoid" and pred.shape[-1] == 1:
        p = np.clip(pred[:, 0], 1e-7, 1 - 1e-7)
        t = y.reshape(-1).astype(np.float64)
        return float(np.mean((p > 0.5) == (t > 0.5))), float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
    classes = pred.shape[-1]
    integral = y.dtype.kind in "biu" or bool(np.all(np.equal(np.mod(y, 1), 0)))
    one_hot = y.ndim >= 2 and y.shape[-1] == classes and classes > 1
    if classes > 1 and (one_hot or integral):
        labels = np.argmax(y.reshape(len(y), -1), axis=-1) if one_hot else y.reshape(-1).astype(np.int64)
        p = _softmax(pred) if kind == "logits" else pred
        picked = np.clip(p[np.arange(len(labels)), np.clip(labels, 0, classes - 1)], 1e-7, 1.0)
        return float(np.mean(np.argmax(pred, axis=-1) == labels)), float(-np.mean(np.log(picked)))
    mse = float(np.mean((pred - y.reshape(pred.shape).astype(np.float64)) ** 2))
    return -mse, mse


def predict(model: Any, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs in inference mode, batch by batch (no Keras progress line)."""
    outs = [np.asarray(model(x[i:i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(outs) if outs else np.zeros((0,))


def best_callback(eval_model: Any, x_mon: np.ndarray, y_mon: np.ndarray, kind: str, record: FitRecord,
                  patience: int, min_epochs: int = 0) -> Any:
    """A Keras callback: score ``eval_model`` on the monitor set each epoch, halve the learning rate after
    ``patience // 2`` epochs without improvement, stop after ``patience`` (neither before ``min_epochs``),
    restore the best weights at the end."""
    from edgekit.optimize.finetune import import_keras

    keras = import_keras()
    lr_patience = max(1, patience // 2)

    class BestOnHeldOut(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best: tuple[float, float] | None = None
            self.best_weights: list[np.ndarray] | None = None
            self.wait = 0

        def _better(self, score: float, loss: float) -> bool:
            if self.best is None:
                return True
            best_score, best_loss = self.best
            return score > best_score + 1e-9 or (abs(score - best_score) <= 1e-9 and loss < best_loss * 0.99)

        def _lr(self) -> Any:
            lr = getattr(getattr(self.model, "optimizer", None), "learning_rate", None)
            return lr if hasattr(lr, "assign") else None

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            score, loss = held_out_score(predict(eval_model, x_mon), y_mon, kind)
            lr = self._lr()
            record.history.append({"epoch": epoch + 1, "score": round(score, 6), "loss": round(loss, 6),
                                   **({"lr": float(np.asarray(lr))} if lr is not None else {})})
            record.epochs_run = epoch + 1
            if self._better(score, loss):
                self.best, self.wait = (score, loss), 0
                self.best_weights = eval_model.get_weights()
                record.best_epoch, record.best_score = epoch + 1, round(score, 6)
                return
            if epoch + 1 < min_epochs:
                return
            self.wait += 1
            if self.wait >= patience:
                record.stopped = f"no better held-out score for {patience} epochs"
                self.model.stop_training = True
            elif self.wait % lr_patience == 0 and lr is not None:
                lr.assign(float(np.asarray(lr)) * 0.5)

        def on_train_end(self, logs: dict | None = None) -> None:
            if not record.stopped:
                record.stopped = f"epoch cap ({record.epochs_run})"
            if self.best_weights is not None:
                eval_model.set_weights(self.best_weights)

    return BestOnHeldOut()
