import Synchronization

/// Normalization with an affine map, `y = x̂ ⊙ γ + β` with `x̂ = (x − mean)·(variance + ε)^(−1/2)`,
/// forward and backward in two passes each, for the graph's fused normalization op.
///
/// Layout: `x` is `[outer, groups, inner]`; group `k` is every `x[o, k, i]`, and its statistics
/// (the mean and biased variance) are taken over its `outer · inner` values. Batch
/// normalization of `[N, C, P]` is `outer = N`, `groups = C`, `inner = P`; layer normalization of
/// `[rows, size]` is `outer = 1`, `groups = rows`, `inner = size`. `γ` and `β` hold one value
/// per group (``Layout/perGroup``, group `k` reading value `k mod parameterCount`, so that the
/// groups of instance normalization share their channel's) or one per position of `inner`
/// (``Layout/perInner``).
///
/// As ``Normalization/standardize(_:axes:epsilon:)``, each group's first value (its pivot) is
/// subtracted before averaging, so a constant group normalizes to exactly 0. Groups split
/// across `BLAS.threadCount` threads for large inputs; each group's sums run in one fixed order.
enum AffineNormalizationKernels {
    enum Layout { case perGroup, perInner }

    /// Each group's statistics, `[groups, 4]`: its pivot, its mean less the pivot,
    /// `(variance + ε)^(−1/2)` and the biased variance.
    static let statisticCount = 4

    /// Computes `statistics` and `y` from `x`, `scale` (γ) and `offset` (β).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func forward<Scalar: TensorScalar>(
        x: UnsafePointer<Scalar>, scale: UnsafePointer<Scalar>, offset: UnsafePointer<Scalar>,
        y: UnsafeMutablePointer<Scalar>, statistics: UnsafeMutablePointer<Scalar>,
        outer: Int, groups: Int, inner: Int, parameterCount: Int, layout: Layout, epsilon: Scalar
    ) {
        let count = Scalar(outer * inner)
        ElementwiseKernels.forEachPart(of: groups, alignment: 1, parallelFrom: parallelFrom(groups, outer * inner)) { part in
            for k in part {
                let pivot = x[k * inner]
                var total: Scalar = 0
                for o in 0..<outer { total += shiftedSum(x + (o * groups + k) * inner, inner, pivot) }
                let center = total / count
                var squares: Scalar = 0
                for o in 0..<outer { squares += squaredDeviationSum(x + (o * groups + k) * inner, inner, pivot, center) }
                let variance = squares / count
                let inverse = 1 / (variance + epsilon).squareRoot()
                statistics[k * statisticCount] = pivot
                statistics[k * statisticCount + 1] = center
                statistics[k * statisticCount + 2] = inverse
                statistics[k * statisticCount + 3] = variance
                for o in 0..<outer {
                    let row = (o * groups + k) * inner
                    let (xs, ys) = (x + row, y + row)
                    switch layout {
                    case .perGroup:
                        let (a, b) = (scale[k % parameterCount] * inverse, offset[k % parameterCount])
                        for i in 0..<inner { ys[i] = ((xs[i] - pivot) - center) * a + b }
                    case .perInner:
                        for i in 0..<inner { ys[i] = ((xs[i] - pivot) - center) * inverse * scale[i] + offset[i] }
                    }
                }
            }
        }
    }

    /// From `g` = ∂L/∂y: adds ∂L/∂γ and ∂L/∂β into `scaleGradient` and `offsetGradient` (of γ's
    /// and β's size) and, if given, writes ∂L/∂x,
    /// `σ⁻¹ ⊙ (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂))` with `ĝ = g ⊙ γ`, into `inputGradient`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func backward<Scalar: TensorScalar>(
        g: UnsafePointer<Scalar>, x: UnsafePointer<Scalar>, scale: UnsafePointer<Scalar>,
        statistics: UnsafePointer<Scalar>, inputGradient: UnsafeMutablePointer<Scalar>?,
        scaleGradient: UnsafeMutablePointer<Scalar>, offsetGradient: UnsafeMutablePointer<Scalar>,
        outer: Int, groups: Int, inner: Int, parameterCount: Int, layout: Layout
    ) {
        let count = Scalar(outer * inner)
        // Each part sums its groups' ∂L/∂γ and ∂L/∂β apart (groups may share a γ); the parts add
        // in order, so the result depends on the thread count only through that order.
        let partials = Mutex<[(first: Int, scale: [Scalar], offset: [Scalar])]>([])
        ElementwiseKernels.forEachPart(of: groups, alignment: 1, parallelFrom: parallelFrom(groups, outer * inner)) { part in
            var partScale = [Scalar](repeating: 0, count: parameterCount)
            var partOffset = partScale
            for k in part {
                let pivot = statistics[k * statisticCount], center = statistics[k * statisticCount + 1]
                let inverse = statistics[k * statisticCount + 2]
                // Σ ĝ and Σ ĝ ⊙ (x − mean) over the group.
                var gradientSum: Scalar = 0, productSum: Scalar = 0
                for o in 0..<outer {
                    let row = (o * groups + k) * inner
                    switch layout {
                    case .perGroup:
                        let sums = gradientSums(g + row, x + row, inner, pivot, center)
                        gradientSum += sums.gradient
                        productSum += sums.product
                    case .perInner:
                        let (gs, xs) = (g + row, x + row)
                        for i in 0..<inner {
                            let deviation = (xs[i] - pivot) - center
                            partScale[i] += gs[i] * deviation * inverse
                            partOffset[i] += gs[i]
                        }
                        let sums = scaledGradientSums(gs, xs, scale, inner, pivot, center)
                        gradientSum += sums.gradient
                        productSum += sums.product
                    }
                }
                if layout == .perGroup {
                    partScale[k % parameterCount] += productSum * inverse
                    partOffset[k % parameterCount] += gradientSum
                }
                guard let inputGradient else { continue }
                let gamma = layout == .perGroup ? scale[k % parameterCount] : 1
                let mean = gamma * gradientSum / count
                let slope = gamma * productSum * inverse * inverse / count
                for o in 0..<outer {
                    let row = (o * groups + k) * inner
                    let (gs, xs, dx) = (g + row, x + row, inputGradient + row)
                    switch layout {
                    case .perGroup:
                        for i in 0..<inner { dx[i] = (gs[i] * gamma - mean - ((xs[i] - pivot) - center) * slope) * inverse }
                    case .perInner:
                        for i in 0..<inner { dx[i] = (gs[i] * scale[i] - mean - ((xs[i] - pivot) - center) * slope) * inverse }
                    }
                }
            }
            partials.withLock { $0.append((part.lowerBound, partScale, partOffset)) }
        }
        for partial in partials.withLock({ $0 }).sorted(by: { $0.first < $1.first }) {
            for i in 0..<parameterCount {
                scaleGradient[i] += partial.scale[i]
                offsetGradient[i] += partial.offset[i]
            }
        }
    }

    /// Threads for at least 2 groups and 64 Ki values.
    private static func parallelFrom(_ groups: Int, _ size: Int) -> Int {
        groups * size >= 1 << 16 ? 2 : Int.max
    }

    /// `Σ (x − pivot)` over `count` values, in eight lanes.
    @inline(__always)
    private static func shiftedSum<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, _ count: Int, _ pivot: Scalar) -> Scalar {
        var lanes = SIMD8<Scalar>(), i = 0
        let raw = UnsafeRawPointer(x), stride = MemoryLayout<Scalar>.stride
        while i + 8 <= count {
            lanes += raw.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self) - pivot
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i] - pivot
            i += 1
        }
        return total
    }

    /// `Σ ((x − pivot) − center)²` over `count` values, in eight lanes.
    @inline(__always)
    private static func squaredDeviationSum<Scalar: TensorScalar>(
        _ x: UnsafePointer<Scalar>, _ count: Int, _ pivot: Scalar, _ center: Scalar
    ) -> Scalar {
        var lanes = SIMD8<Scalar>(), i = 0
        let raw = UnsafeRawPointer(x), stride = MemoryLayout<Scalar>.stride
        while i + 8 <= count {
            let d = (raw.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self) - pivot) - center
            lanes += d * d
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let d = (x[i] - pivot) - center
            total += d * d
            i += 1
        }
        return total
    }

    /// `Σ g` and `Σ g ⊙ (x − mean)` over `count` values, in eight lanes.
    @inline(__always)
    private static func gradientSums<Scalar: TensorScalar>(
        _ g: UnsafePointer<Scalar>, _ x: UnsafePointer<Scalar>, _ count: Int, _ pivot: Scalar, _ center: Scalar
    ) -> (gradient: Scalar, product: Scalar) {
        var gradientLanes = SIMD8<Scalar>(), productLanes = SIMD8<Scalar>(), i = 0
        let (rawG, rawX, stride) = (UnsafeRawPointer(g), UnsafeRawPointer(x), MemoryLayout<Scalar>.stride)
        while i + 8 <= count {
            let gs = rawG.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self)
            let d = (rawX.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self) - pivot) - center
            gradientLanes += gs
            productLanes += gs * d
            i += 8
        }
        var (gradient, product) = (gradientLanes.sum(), productLanes.sum())
        while i < count {
            gradient += g[i]
            product += g[i] * ((x[i] - pivot) - center)
            i += 1
        }
        return (gradient, product)
    }

    /// `Σ g ⊙ γ` and `Σ g ⊙ γ ⊙ (x − mean)` over `count` values, in eight lanes.
    @inline(__always)
    private static func scaledGradientSums<Scalar: TensorScalar>(
        _ g: UnsafePointer<Scalar>, _ x: UnsafePointer<Scalar>, _ scale: UnsafePointer<Scalar>, _ count: Int,
        _ pivot: Scalar, _ center: Scalar
    ) -> (gradient: Scalar, product: Scalar) {
        var gradientLanes = SIMD8<Scalar>(), productLanes = SIMD8<Scalar>(), i = 0
        let (rawG, rawX, rawScale) = (UnsafeRawPointer(g), UnsafeRawPointer(x), UnsafeRawPointer(scale))
        let stride = MemoryLayout<Scalar>.stride
        while i + 8 <= count {
            let gs = rawG.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self)
                * rawScale.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self)
            let d = (rawX.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Scalar>.self) - pivot) - center
            gradientLanes += gs
            productLanes += gs * d
            i += 8
        }
        var (gradient, product) = (gradientLanes.sum(), productLanes.sum())
        while i < count {
            let gs = g[i] * scale[i]
            gradient += gs
            product += gs * ((x[i] - pivot) - center)
            i += 1
        }
        return (gradient, product)
    }
}
