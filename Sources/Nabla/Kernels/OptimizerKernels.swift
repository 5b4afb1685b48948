import CNablaKernels

/// The update loops of the optimizers, over unsafe buffer pointers, specialized for `Float` and
/// `Double`; they allocate nothing.
enum OptimizerKernels {}

extension OptimizerKernels {
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func sgd<Scalar: TensorScalar>(
        _ p: UnsafeMutableBufferPointer<Scalar>, gradient g: UnsafeBufferPointer<Scalar>,
        momentumBuffer b: UnsafeMutableBufferPointer<Scalar>?, isFirstStep: Bool,
        learningRate: Scalar, momentum: Scalar, dampening: Scalar, weightDecay: Scalar, nesterov: Bool
    ) {
        for i in p.indices {
            var d = g[i]
            if weightDecay != 0 { d += weightDecay * p[i] }
            if let b {
                b[i] = isFirstStep ? d : momentum * b[i] + (1 - dampening) * d
                d = nesterov ? d + momentum * b[i] : b[i]
            }
            p[i] -= learningRate * d
        }
    }
}

extension OptimizerKernels {
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func adam<Scalar: TensorScalar>(
        _ p: UnsafeMutableBufferPointer<Scalar>, gradient g: UnsafeBufferPointer<Scalar>,
        firstMoment m: UnsafeMutableBufferPointer<Scalar>, secondMoment v: UnsafeMutableBufferPointer<Scalar>,
        maximumSecondMoment vMax: UnsafeMutableBufferPointer<Scalar>?, step: Int,
        learningRate: Scalar, beta1: Scalar, beta2: Scalar, epsilon: Scalar, weightDecay: Scalar,
        decoupled: Bool
    ) {
        let stepSize = learningRate / (1 - Scalar.pow(beta1, step))
        let correction2Root = (1 - Scalar.pow(beta2, step)).squareRoot()
        let decay = 1 - learningRate * weightDecay
        if weightDecay == 0 && vMax == nil {  // the common case, in one branch-free loop
            return adamWithoutDecay(
                p, g, m, v, stepSize: stepSize, correction2Root: correction2Root, beta1: beta1, beta2: beta2,
                epsilon: epsilon)
        }
        for i in p.indices {
            var d = g[i]
            if weightDecay != 0 {
                if decoupled { p[i] *= decay } else { d += weightDecay * p[i] }
            }
            m[i] = beta1 * m[i] + (1 - beta1) * d
            v[i] = beta2 * v[i] + (1 - beta2) * d * d
            var second = v[i]
            if let vMax {
                // NaN-propagating, as torch.maximum.
                vMax[i] = Scalar.maximumPropagatingNaN(vMax[i], v[i])
                second = vMax[i]
            }
            p[i] -= stepSize * m[i] / (second.squareRoot() / correction2Root + epsilon)
        }
    }

    /// Adam's update with no weight decay and no AMSGrad, as one loop that vectorizes; in C
    /// above the portable level (``KernelFamily/optimizerUpdate``), with the same bits.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func adamWithoutDecay<Scalar: TensorScalar>(
        _ p: UnsafeMutableBufferPointer<Scalar>, _ g: UnsafeBufferPointer<Scalar>,
        _ m: UnsafeMutableBufferPointer<Scalar>, _ v: UnsafeMutableBufferPointer<Scalar>,
        stepSize: Scalar, correction2Root: Scalar, beta1: Scalar, beta2: Scalar, epsilon: Scalar
    ) {
        let count = p.count
        guard count > 0 else { return }
        let (p, g, m, v) = (p.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!)
        let level = KernelFamily.optimizerUpdate.levelForRun()
        if level > .portable {
            if let (p, g, m, v) = floats(p, g, m, v) {
                (level == .avx2 ? nabla_adam_f32_avx2 : nabla_adam_f32_avx512)(
                    p, g, m, v, Int64(count), Float(stepSize), Float(correction2Root), Float(beta1),
                    Float(beta2), Float(epsilon))
            } else if let (p, g, m, v) = doubles(p, g, m, v) {
                (level == .avx2 ? nabla_adam_f64_avx2 : nabla_adam_f64_avx512)(
                    p, g, m, v, Int64(count), Double(stepSize), Double(correction2Root), Double(beta1),
                    Double(beta2), Double(epsilon))
            }
            return
        }
        let (oneMinusBeta1, oneMinusBeta2) = (1 - beta1, 1 - beta2)
        // Eight at a time (the scalar `squareRoot` is a libm call that blocks vectorizing), then
        // the tail; both round exactly alike.
        typealias Vector = SIMD8<Scalar>
        let width = Vector.scalarCount
        var start = 0
        while start + width <= count {
            let d = UnsafeRawPointer(g + start).loadUnaligned(as: Vector.self)
            let first = beta1 * UnsafeRawPointer(m + start).loadUnaligned(as: Vector.self) + oneMinusBeta1 * d
            let second = beta2 * UnsafeRawPointer(v + start).loadUnaligned(as: Vector.self) + oneMinusBeta2 * d * d
            let parameter = UnsafeRawPointer(p + start).loadUnaligned(as: Vector.self)
            UnsafeMutableRawPointer(m + start).storeBytes(of: first, as: Vector.self)
            UnsafeMutableRawPointer(v + start).storeBytes(of: second, as: Vector.self)
            UnsafeMutableRawPointer(p + start).storeBytes(
                of: parameter - stepSize * first / (ElementwiseKernels.squareRoots(second) / correction2Root + epsilon),
                as: Vector.self)
            start += width
        }
        for i in start..<count {
            let d = g[i]
            let first = beta1 * m[i] + oneMinusBeta1 * d
            let second = beta2 * v[i] + oneMinusBeta2 * d * d
            m[i] = first
            v[i] = second
            p[i] -= stepSize * first / (second.squareRoot() / correction2Root + epsilon)
        }
    }
}

extension OptimizerKernels {
    /// The four buffers as `Float` pointers, when `Scalar` is `Float`.
    @inline(__always)
    static func floats<Scalar>(
        _ p: UnsafeMutablePointer<Scalar>, _ g: UnsafePointer<Scalar>, _ m: UnsafeMutablePointer<Scalar>,
        _ v: UnsafeMutablePointer<Scalar>
    ) -> (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)? {
        Scalar.self == Float.self ? (cast(p, Float.self), cast(g, Float.self), cast(m, Float.self), cast(v, Float.self)) : nil
    }

    /// The four buffers as `Double` pointers, when `Scalar` is `Double`.
    @inline(__always)
    static func doubles<Scalar>(
        _ p: UnsafeMutablePointer<Scalar>, _ g: UnsafePointer<Scalar>, _ m: UnsafeMutablePointer<Scalar>,
        _ v: UnsafeMutablePointer<Scalar>
    ) -> (UnsafeMutablePointer<Double>, UnsafePointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>)? {
        Scalar.self == Double.self ? (cast(p, Double.self), cast(g, Double.self), cast(m, Double.self), cast(v, Double.self)) : nil
    }
}

extension OptimizerKernels {
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func rmsProp<Scalar: TensorScalar>(
        _ p: UnsafeMutableBufferPointer<Scalar>, gradient g: UnsafeBufferPointer<Scalar>,
        squareAverage s: UnsafeMutableBufferPointer<Scalar>,
        momentumBuffer b: UnsafeMutableBufferPointer<Scalar>?,
        gradientAverage gAverage: UnsafeMutableBufferPointer<Scalar>?,
        learningRate: Scalar, alpha: Scalar, epsilon: Scalar, weightDecay: Scalar, momentum: Scalar
    ) {
        for i in p.indices {
            var d = g[i]
            if weightDecay != 0 { d += weightDecay * p[i] }
            s[i] = alpha * s[i] + (1 - alpha) * d * d
            var root: Scalar
            if let gAverage {
                gAverage[i] = alpha * gAverage[i] + (1 - alpha) * d
                root = (s[i] - gAverage[i] * gAverage[i]).squareRoot()
            } else {
                root = s[i].squareRoot()
            }
            root += epsilon
            if let b {
                b[i] = momentum * b[i] + d / root
                p[i] -= learningRate * b[i]
            } else {
                p[i] -= learningRate * d / root
            }
        }
    }
}

/// The memory of one state tensor of one parameter: allocated (zeroed) once, when the optimizer
/// is made, freed with it, and updated in place.
final class StateBuffer<Scalar: TensorScalar> {
    let pointer: UnsafeMutableBufferPointer<Scalar>

    init(count: Int) {
        let base = UnsafeMutablePointer<Scalar>.allocate(capacity: Swift.max(count, 1))
        base.initialize(repeating: 0, count: Swift.max(count, 1))
        pointer = UnsafeMutableBufferPointer(start: base, count: count)
    }

    deinit { pointer.baseAddress!.deallocate() }

    /// A copy of the contents as a tensor of `shape`.
    func tensor(shape: [Int]) -> Tensor<Scalar> {
        Tensor(unsafeUninitializedShape: shape) { $0.baseAddress!.initialize(from: pointer.baseAddress!, count: pointer.count) }
    }

    /// Overwrites the contents with `tensor`'s scalars (the counts agree).
    func assign(_ tensor: Tensor<Scalar>) {
        tensor.withUnsafeBufferPointer { pointer.baseAddress!.update(from: $0.baseAddress!, count: pointer.count) }
    }
}
