"""Knowledge distillation: train a small student on a teacher's softened outputs (Hinton et al. 2015).

Uses ``keras.distillation.Distiller`` (Keras >= 3.15) with ``LogitsDistillation``: the loss is
``alpha * CE(labels, student) + (1 - alpha) * T**2 * KL(softmax(t/T) || softmax(s/T))``.
``LogitsDistillation`` expects logits: for a model ending in a softmax, distillation runs on the
logits before it (the final softmax is switched off while training, on a copy of the teacher and on
the student, and switched back on). The student keeps its own architecture (softmax included) and
is returned as a plain Keras model, ready for int8 conversion. Without labels (``alpha == 0``) it
distills on unlabeled data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from edgekit.errors import ModelError, UsageError
from edgekit.optimize._graph import copy_model, own_nodes
from edgekit.optimize.finetune import (
    FineTune,
    check_data,
    check_model,
    fit,
    import_keras,
    make_optimizer,
    monitor_data,
    output_kind,
    seed_everything,
)

STUDENT_MIN_EPOCHS = 10  # early stopping waits this long while distilling (see distill_info)

def _logit_view(model: Any) -> Any:
    """A model computing ``model``'s logits, sharing its layers (for distillation).

    Returns the model itself if it ends in logits, a view ending at the input of a final
    ``Softmax``/``Activation`` layer, or, for a final layer with ``activation="softmax"``, the model itself
    after switching that activation to linear (the caller restores it). True logits, not ``log(p)``:
    cross-entropy on ``log(p)`` loses its gradient where ``p`` underflows.
    """
    keras = import_keras()
    kind = output_kind(model)
    if kind == "logits":
        return model
    if kind == "sigmoid":
        raise ModelError(f"model {model.name!r} ends in a sigmoid; distillation here needs softmax or logit outputs")
    last = model.layers[-1]
    if isinstance(last, (keras.layers.Softmax, keras.layers.Activation)):
        pre = own_nodes(model)[last.name][0].input_tensors[0]  # its call in this model (not ``last.input``)
        return keras.Model(model.inputs[0], pre, name=f"{model.name}_logits")
    last.activation = keras.activations.linear
    return model


def check_pair(teacher: Any, student: Any) -> None:
    """Teacher and student must take the same input and give outputs of the same shape."""
    t_in, s_in = tuple(teacher.inputs[0].shape[1:]), tuple(student.inputs[0].shape[1:])
    if t_in != s_in:
        raise ModelError(f"teacher {teacher.name!r} takes inputs of shape {t_in}, student {student.name!r} {s_in}",
                         hint="the teacher and the student must read the same inputs")
    t_out, s_out = tuple(teacher.outputs[0].shape[1:]), tuple(student.outputs[0].shape[1:])
    if t_out != s_out:
        raise ModelError(f"teacher output shape {t_out} does not match student output shape {s_out}",
                         hint="distillation needs the same classes in the same order on both models")


def distill(teacher: Any, student: Any, x: Any, y: Any = None, *, temperature: float = 2.0, alpha: float = 0.5,
            finetune: FineTune | None = None) -> Any:
    """Train (a copy of) ``student`` to match ``teacher``; returns the trained student.

    Args:
        teacher: a trained Keras model (or .keras path); frozen, not modified.
        student: the Keras model to train (trained or freshly initialised); not modified.
        x, y: training inputs and labels; labels may be omitted when ``alpha == 0``.
        temperature: softening temperature T > 0 (2-8 is typical).
        alpha: weight of the hard-label loss in [0, 1]; ``1 - alpha`` weighs the distillation loss.
        finetune: epochs, optimizer, callbacks... (default: Adam 1e-3 until the student's held-out accuracy
            stops improving, at least ``STUDENT_MIN_EPOCHS``; without labels, its agreement with the teacher).

    Raises:
        ModelError: input or output shapes of teacher and student differ; sigmoid outputs.
        UsageError: temperature <= 0, alpha outside [0, 1]. DataError: labels missing while alpha > 0.
    """
    return distill_info(teacher, student, x, y, temperature=temperature, alpha=alpha, finetune=finetune)[0]


def distill_info(teacher: Any, student: Any, x: Any, y: Any = None, *, temperature: float = 2.0,
                 alpha: float = 0.5, finetune: FineTune | None = None) -> tuple[Any, dict[str, Any]]:
    """:func:`distill`, also returning the fine-tuning record (epochs run, best epoch...) as a dict."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) \
            or temperature <= 0:
        raise UsageError(f"temperature: must be a number > 0, got {temperature!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise UsageError(f"alpha: must be a number in [0, 1] (the weight of the hard-label loss), got {alpha!r}")
    ft = finetune or FineTune()
    keras = import_keras()
    teacher = check_model(teacher, "teacher")
    student = check_model(student, "student")
    check_pair(teacher, student)
    trained = copy_model(student)
    xs, ys = check_data(trained, x, y, need_labels=alpha > 0, why=f"distillation with alpha={alpha} (hard-label loss)")
    if ft.epochs == 0:
        return trained, {}
    seed_everything(ft.seed)
    monitor = None
    if ft.epochs is None:
        # a student is often trained from scratch: its BatchNorm statistics lag, held-out accuracy starts late
        ft = replace(ft, min_epochs=max(ft.min_epochs, STUDENT_MIN_EPOCHS))
        xs, ys, xm, ym = monitor_data(xs, ys, ft)
        if ym is None:  # no labels: watch the student's agreement with the teacher
            ym = np.argmax(np.asarray(teacher.predict(xm, verbose=0)), axis=-1)
        monitor = (xm, ym)
    t_view = _logit_view(copy_model(teacher))  # a copy: the teacher may get its softmax switched off
    final_activation = trained.layers[-1].activation if hasattr(trained.layers[-1], "activation") else None
    s_view = _logit_view(trained)
    loss = None
    if ys is not None:
        loss = (keras.losses.CategoricalCrossentropy(from_logits=True) if ys.ndim >= 2 and ys.shape[-1] > 1
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    distiller = keras.distillation.Distiller(
        teacher=t_view, student=s_view,
        # an explicit KLDivergence instance: with the default loss="kl_divergence", Keras 3.15 resolves a plain
        # function, misses its softmax-with-temperature branch and compares raw logits (no useful gradient)
        distillation_losses=keras.distillation.LogitsDistillation(temperature=float(temperature),
                                                                  loss=keras.losses.KLDivergence()),
        student_loss_weight=float(alpha))
    distiller.compile(optimizer=make_optimizer(ft), loss=loss or keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    try:
        record = fit(distiller, xs, ys, ft, what=f"distilling (T={temperature:g}, alpha={alpha:g})",
                     compile_model=False, eval_model=s_view, monitor=monitor)
    finally:
        if final_activation is not None:
            trained.layers[-1].activation = final_activation  # the student gets its softmax back
    return trained, asdict(record)
