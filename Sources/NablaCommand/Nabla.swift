import ArgumentParser
import Nabla

@main
struct NablaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nabla")
    func run() throws { print(BLAS.configuration) }
}
