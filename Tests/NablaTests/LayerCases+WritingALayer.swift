import Testing

import Nabla

extension LayerCase {
    /// The Writing a layer article's PReLU, in the parity table like every library layer.
    static let writingALayer: [LayerCase] = [
        .init(name: "PReLU(3), NCHW [2, 3, 2, 2] input", inputShape: [2, 3, 2, 2], domain: .awayFromZero) { _ in
            PReLU(channelCount: 3)
        } makeFloat: { _ in PReLU(channelCount: 3) },
        .init(name: "PReLU(4), [3, 4] input, no input gradient", inputShape: [3, 4], computesInputGradient: false,
              domain: .awayFromZero) { _ in
            PReLU(channelCount: 4, initialSlope: 0.1)
        } makeFloat: { _ in PReLU(channelCount: 4, initialSlope: 0.1) },
    ]
}
