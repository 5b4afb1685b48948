/// The algorithm that runs one pass of a 2-D convolution: the one place that decides, asked by
/// every convolution entry point (as PyTorch's `_select_conv_backend` returns a `ConvBackend`).
///
/// The rule, in this order for every pass:
/// 0. **Grouped** (`groups > 1`): **depthwise** direct loops when every group has one input
///    channel (`groups = C`), else **per group**, each group's channels through this rule again.
/// 1. **Few channels** (`C ≤ 4`, the first layer): direct SIMD loops where `O·C` is small, one
///    GEMM per image otherwise, straight into and out of NCHW; it also fuses the bias into the
///    forward and sums the bias gradient in the filter-gradient pass.
/// 2. **Winograd F(4×4, 3×3)**: 3×3, stride 1, dilation 1, with `C ≥ 16`, `O ≥ 16` and at least
///    512 output positions (for the input gradient: the same test on its own convolution, with
///    padding at most 2); it adds the bias in its output transform.
/// 3. **Space-to-depth Winograd**: 4×4, stride 2, dilation 1 (DCGAN's downsampling layers, and
///    the transposed ones that upsample) as a 2×2 convolution over 4C channels by Winograd
///    F(4×4, 2×2) (``SpaceToDepthConvolution``), on the same conditions: `4C ≥ 16`, `O ≥ 16`
///    and at least 512 output positions.
/// 4. **im2col + GEMM** for every other shape.
///
/// Few channels and Winograd never overlap (`C ≤ 4` against `C ≥ 16`), nor Winograd and
/// space-to-depth (3×3 against 4×4 kernels); a 4-channel stride-2 4×4 shape that both few
/// channels and space-to-depth take goes the few-channel way, asked first. A transposed
/// convolution is the input-gradient pass of the convolution it is the adjoint of, and asks for
/// that.
public enum ConvolutionAlgorithm: String, Hashable, Sendable, CaseIterable {
    case fewChannels
    case winograd
    /// Stride-2 4×4: ``SpaceToDepthConvolution``.
    case spaceToDepth
    case im2col
    /// Groups of one input channel each: `DepthwiseConvolutionKernels`.
    case depthwise
    /// Each group apart, through the ungrouped rule, the results joined.
    case perGroup

    /// A pass of the convolution.
    public enum Pass: String, Hashable, Sendable, CaseIterable {
        /// `y = conv2d(x, w)`.
        case forward
        /// `y = conv2d(x, w) + b`.
        case forwardAddingBias
        /// `∂L/∂x` from `∂L/∂y` and `w`.
        case inputGradient
        /// `∂L/∂w` from `∂L/∂y` and `x`.
        case filterGradient
        /// `∂L/∂w` and `∂L/∂b` together.
        case filterAndBiasGradient
    }

    /// The algorithm for `pass` of the convolution with `geometry` (all `C` input channels),
    /// `outputChannels` and `groups`.
    @inlinable
    public static func select(
        _ pass: Pass, geometry: Convolution2DGeometry, outputChannels: Int, groups: Int = 1
    ) -> ConvolutionAlgorithm {
        if groups > 1 { return geometry.channels == groups ? .depthwise : .perGroup }
        let fewChannels: Bool
        let winograd: Bool
        switch pass {
        case .forward, .forwardAddingBias:
            fewChannels = FewChannelConvolutionKernels.handlesForward(geometry, outputChannels: outputChannels)
            winograd = WinogradKernels.pays(geometry, outputChannels: outputChannels)
        case .inputGradient:
            fewChannels = FewChannelConvolutionKernels.handlesInputGradient(geometry, outputChannels: outputChannels)
            winograd = WinogradKernels.paysForInputGradient(geometry, outputChannels: outputChannels)
        case .filterGradient, .filterAndBiasGradient:
            fewChannels = FewChannelConvolutionKernels.handlesFilterGradient(geometry, outputChannels: outputChannels)
            winograd = WinogradKernels.pays(geometry, outputChannels: outputChannels)
        }
        if fewChannels { return .fewChannels }
        if winograd { return .winograd }
        return SpaceToDepthConvolution.pays(geometry, outputChannels: outputChannels) ? .spaceToDepth : .im2col
    }
}
