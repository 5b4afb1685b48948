import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for Dropout, pooling, Flatten and Reshape.
    static let poolingAndShape: [LayerCase] = []
}
