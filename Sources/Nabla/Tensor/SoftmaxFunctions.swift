// Softmax and log-softmax along an axis, computed stably by subtracting the maximum (softmax is
// shift-invariant): the forwards of the differentiable ops and of the layers.

/// `exp(x) / sum(exp(x), axis)`, computed stably. The shape of `x`; `axis` must not be empty.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func softmax<Scalar>(_ x: Tensor<Scalar>, alongAxis axis: Int = -1) -> Tensor<Scalar> {
    let axis = Misuse.checkedSoftmaxAxis("softmax", x.shape, axis)
    if axis == x.rank - 1 {  // rows in memory: one pass per row
        let columns = x.shape[axis]
        return x.mappingBuffer { input, output, count in
            SoftmaxKernels.softmaxRows(input, into: output, rows: count / columns, columns: columns)
        }
    }
    let exponentials = exp(x - x.max(alongAxes: [axis], keepingDimensions: true))
    return exponentials / exponentials.sum(alongAxes: [axis], keepingDimensions: true)
}

/// `x − log(sum(exp(x), axis))`, computed stably: finite wherever `x` is finite, even for large
/// `|x|`. The shape of `x`; `axis` must not be empty.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func logSoftmax<Scalar>(_ x: Tensor<Scalar>, alongAxis axis: Int = -1) -> Tensor<Scalar> {
    let axis = Misuse.checkedSoftmaxAxis("logSoftmax", x.shape, axis)
    let shifted = x - x.max(alongAxes: [axis], keepingDimensions: true)
    return shifted - log(exp(shifted).sum(alongAxes: [axis], keepingDimensions: true))
}

