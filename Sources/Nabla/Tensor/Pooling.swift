// 2-D max and average pooling over NCHW tensors, the index gather and scatter behind max
// pooling's gradient, and the adjoint of average pooling.


/// 2-D max pooling of `input`, with the element each maximum came from.
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - configuration: the window, its stride and padding (at most half the window). Padding
///     never wins: it acts as −∞.
/// - Returns: `values` `[N, C, oh, ow]`, sizes as in ``conv2d(_:filter:configuration:groups:)``, and
///   `indices`, for each output element (row-major) the row-major offset in `input` of its
///   maximum; ties go to the first in window order, and NaN wins.
@inlinable
public func maxPool2dWithIndices<S: TensorScalar>(
    _ input: Tensor<S>, configuration: Pooling2DConfiguration
) -> (values: Tensor<S>, indices: [Int]) {
    let g = Misuse.pooling2DGeometry("maxPool2d", inputShape: input.shape, configuration: configuration)
    let shape = [g.batch, g.channels, g.outputHeight, g.outputWidth]
    var indices = [Int](repeating: 0, count: shape.reduce(1, *))
    let values = Tensor<S>(unsafeUninitializedShape: shape) { output in
        input.withUnsafeBufferPointer { input in
            indices.withUnsafeMutableBufferPointer { indices in
                PoolingKernels.maxPool(g, input: input, output: output, indices: indices)
            }
        }
    }
    return (values, indices)
}

/// 2-D max pooling: ``maxPool2dWithIndices(_:configuration:)`` without the indices.
/// `[N, C, H, W]` → `[N, C, oh, ow]`.
@inlinable
public func maxPool2d<S: TensorScalar>(
    _ input: Tensor<S>, configuration: Pooling2DConfiguration
) -> Tensor<S> {
    maxPool2dWithIndices(input, configuration: configuration).values
}

/// 2-D average pooling, counting padding: every window sum is divided by
/// `kernelHeight · kernelWidth`, zeros in the padding included (PyTorch's default
/// `count_include_pad=True`).
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - configuration: the window, its stride and padding (at most half the window).
/// - Returns: `[N, C, oh, ow]`, sizes as in ``conv2d(_:filter:configuration:groups:)``.
@inlinable
public func avgPool2d<S: TensorScalar>(
    _ input: Tensor<S>, configuration: Pooling2DConfiguration
) -> Tensor<S> {
    let g = Misuse.pooling2DGeometry("avgPool2d", inputShape: input.shape, configuration: configuration)
    return Tensor(unsafeUninitializedShape: [g.batch, g.channels, g.outputHeight, g.outputWidth]) {
        output in
        input.withUnsafeBufferPointer { PoolingKernels.averagePool(g, input: $0, output: output) }
    }
}

/// The adjoint of ``avgPool2d(_:configuration:)``: spreads each pooled
/// element, divided by `kernelHeight · kernelWidth`, over its window (padding dropped).
///
/// - Parameters:
///   - pooled: `[N, C, oh, ow]`.
///   - inputShape: `[N, C, H, W]`.
///   - configuration: The window, its stride and padding, as in the pooling.
/// - Returns: a tensor of `inputShape`.
@inlinable
public func avgPool2dAdjoint<S: TensorScalar>(
    _ pooled: Tensor<S>, inputShape: [Int], configuration: Pooling2DConfiguration
) -> Tensor<S> {
    let op = "avgPool2dAdjoint"
    let g = Misuse.pooling2DGeometry(op, inputShape: inputShape, configuration: configuration)
    Misuse.checkPooledShape(op, pooled.shape, geometry: g)
    return Tensor(unsafeUninitializedShape: inputShape) { input in
        pooled.withUnsafeBufferPointer {
            PoolingKernels.averagePoolAdjoint(g, pooled: $0, input: input)
        }
    }
}

/// The elements of `x` at `indices`: result element `i` (row-major) is the element of `x` at
/// row-major offset `indices[i]`.
///
/// - Parameters:
///   - x: The tensor to read from, any shape.
///   - indices: one offset into `x` per element of `shape`.
///   - shape: The result's shape.
/// - Returns: a tensor of `shape`.
@inlinable
public func gather<S: TensorScalar>(_ x: Tensor<S>, atIndices indices: [Int], shape: [Int])
    -> Tensor<S>
{
    Misuse.checkIndices("gather", indices, shape: shape, target: x.shape)
    return Tensor(unsafeUninitializedShape: shape) { output in
        x.withUnsafeBufferPointer { source in
            for (i, index) in indices.enumerated() { output[i] = source[index] }
        }
    }
}

/// The adjoint of ``gather(_:atIndices:shape:)``: a zero tensor of `shape` with element `i` of
/// `values` added at row-major offset `indices[i]` (repeated offsets add up).
///
/// - Parameters:
///   - values: any shape; `indices` has one offset per element.
///   - indices: one row-major offset into `shape` per element of `values`.
///   - shape: The result's shape.
/// - Returns: a tensor of `shape`.
@inlinable
public func scatter<S: TensorScalar>(
    _ values: Tensor<S>, atIndices indices: [Int], intoShape shape: [Int]
) -> Tensor<S> {
    Misuse.checkIndices("scatter", indices, shape: values.shape, target: shape)
    return Tensor(unsafeUninitializedShape: shape) { output in
        output.update(repeating: 0)
        values.withUnsafeBufferPointer { values in
            for (i, index) in indices.enumerated() { output[index] += values[i] }
        }
    }
}
