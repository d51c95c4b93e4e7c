"""Small Keras models for the AOT kernel tests: each builds one model with many branches (one op family)."""

from __future__ import annotations


def conv_zoo():
    """CONV_2D over kernel sizes, strides, paddings, dilations, groups, bias and fused activations."""
    import keras
    from keras import layers

    x = keras.Input((11, 13, 3), batch_size=1)
    dot = keras.Input((1, 1, 5), batch_size=1)
    outs = [
        layers.Conv2D(3, 3, strides=2, padding="same", activation="relu")(dot),
        layers.Conv2D(4, 3, padding="same")(x),
        layers.Conv2D(5, 3, padding="valid", activation="relu")(x),
        layers.Conv2D(3, (2, 5), strides=2, padding="same", activation="relu6")(x),
        layers.Conv2D(6, (4, 3), strides=(3, 2), padding="valid", use_bias=False)(x),
        layers.Conv2D(4, 3, dilation_rate=2, padding="same")(x),
        layers.Conv2D(2, (3, 2), dilation_rate=(2, 3), padding="valid", activation="relu")(x),
        layers.Conv2D(7, 1, padding="same", activation="relu6")(x),
        layers.Conv2D(6, 3, strides=2, groups=3, padding="same")(x),
        layers.Conv2D(3, 5, strides=3, padding="same")(x),
        layers.Conv2D(1, (11, 13), padding="valid")(x),
    ]
    return keras.Model([x, dot], outs)


def depthwise_zoo():
    """DEPTHWISE_CONV_2D over depth multipliers, strides, paddings, dilations and activations."""
    import keras
    from keras import layers

    x = keras.Input((9, 10, 4), batch_size=1)
    mono = keras.Input((7, 5, 1), batch_size=1)
    outs = [
        layers.DepthwiseConv2D((4, 3), strides=2, padding="same", depth_multiplier=8, activation="relu")(mono),
        layers.DepthwiseConv2D(3, padding="same")(x),
        layers.DepthwiseConv2D(3, padding="valid", depth_multiplier=2, activation="relu")(x),
        layers.DepthwiseConv2D((2, 4), strides=2, padding="same", depth_multiplier=3, activation="relu6")(x),
        layers.DepthwiseConv2D(3, strides=(1, 3), padding="valid", use_bias=False)(x),
        layers.DepthwiseConv2D(3, dilation_rate=2, padding="same", depth_multiplier=2)(x),
        layers.DepthwiseConv2D((2, 3), dilation_rate=(3, 2), padding="valid", activation="relu")(x),
        layers.DepthwiseConv2D(5, strides=2, padding="same")(x),
    ]
    return keras.Model([x, mono], outs)


def dense_zoo():
    """FULLY_CONNECTED: 2-D and 3-D inputs (keep_num_dims), no bias, fused activations."""
    import keras
    from keras import layers

    x = keras.Input((5, 7), batch_size=1)
    flat = layers.Flatten()(x)
    outs = [
        layers.Dense(9)(flat),
        layers.Dense(4, activation="relu", use_bias=False)(flat),
        layers.Dense(3, activation="relu6")(flat),
        layers.Dense(6)(x),
        layers.Dense(1)(flat),
    ]
    return keras.Model(x, outs)


def pool_zoo():
    """AVERAGE_POOL_2D / MAX_POOL_2D over pool sizes, strides, paddings and odd shapes."""
    import keras
    from keras import layers

    x = keras.Input((9, 11, 3), batch_size=1)
    outs = [
        layers.AveragePooling2D(2)(x),
        layers.AveragePooling2D(3, strides=2, padding="same")(x),
        layers.AveragePooling2D((2, 4), strides=(3, 1), padding="valid")(x),
        layers.AveragePooling2D((4, 3), strides=(2, 3), padding="same")(x),
        layers.MaxPooling2D(2)(x),
        layers.MaxPooling2D(3, strides=2, padding="same")(x),
        layers.MaxPooling2D((3, 2), strides=(1, 3), padding="valid")(x),
        layers.MaxPooling2D((5, 5), strides=4, padding="same")(x),
        layers.GlobalAveragePooling2D(keepdims=True)(x),
    ]
    return keras.Model(x, outs)


def shape_zoo():
    """PAD, PADV2, CONCATENATION on several axes, RESHAPE, RELU, RELU6 (standalone)."""
    import keras
    from keras import layers, ops

    x = keras.Input((6, 7, 4), batch_size=1)
    r = layers.ReLU()(x)
    r6 = layers.ReLU(max_value=6.0)(x)
    outs = [
        r,
        r6,
        layers.ZeroPadding2D(((1, 2), (0, 3)))(x),
        layers.Lambda(lambda t: ops.pad(t, [[0, 0], [2, 1], [1, 1], [1, 0]], constant_values=0.5))(x),
        layers.Concatenate(axis=-1)([x, r]),
        layers.Concatenate(axis=1)([x, r6]),
        layers.Concatenate(axis=2)([r, x, r6]),
        layers.Reshape((14, 12))(x),
        layers.Flatten()(x),
    ]
    return keras.Model(x, outs)


def double_rounding_probe():
    """One wide Dense layer: many requantizations, to tell single from double rounding."""
    import keras
    from keras import layers

    x = keras.Input((64,), batch_size=1)
    return keras.Model(x, layers.Dense(512)(x))


ZOO = {"conv": conv_zoo, "depthwise": depthwise_zoo, "dense": dense_zoo, "pool": pool_zoo, "shape": shape_zoo}
