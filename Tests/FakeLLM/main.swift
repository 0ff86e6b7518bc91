// fake-llm PORT LATENCY_SECONDS
//
// The tests' fake OpenAI-compatible LLM (FakeChatCompletionsServer) as a process of its own,
// for the scripts that run Scribe against it (scripts/browser-test, scripts/api-fuzz,
// scripts/bench): it listens on 127.0.0.1:PORT and answers every chat completion with
// "echo: <the last user message>" after LATENCY_SECONDS, word by word over that time when
// asked to stream. `GET /stats` answers its counts as JSON (`max_in_flight`: the most
// requests it held at once). It records no request, so its memory stays flat however many
// it answers. It prints "listening on http://127.0.0.1:PORT/v1" once bound, and stops on
// SIGTERM or SIGINT after answering what it holds.
import Foundation
import Logging
import ScribeLLMTesting
import ServiceLifecycle

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 2, let port = Int(arguments.first!), (1...65535).contains(port),
    let latency = Double(arguments.last!), latency >= 0
else {
    FileHandle.standardError.write(Data("usage: fake-llm PORT LATENCY_SECONDS\n".utf8))
    exit(2)
}

var logger = Logger(label: "fake-llm")
logger.logLevel = .warning
let server = FakeChatCompletionsServer(
    default: .pace(.milliseconds(Int((latency * 1000).rounded())), then: .echo),
    host: "127.0.0.1",
    port: port,
    recordsRequests: false
)
let services = ServiceGroup(
    configuration: .init(
        services: [
            server.service { baseURL in
                FileHandle.standardOutput.write(Data("listening on \(baseURL)\n".utf8))
            }
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    )
)
do {
    try await services.run()
} catch {
    FileHandle.standardError.write(Data("fake-llm: \(error)\n".utf8))
    exit(1)
}
