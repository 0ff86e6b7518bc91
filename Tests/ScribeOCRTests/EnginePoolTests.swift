import Foundation
import ScribeDocuments
import ScribeOCR
import ScribeTestSupport
import Testing

extension OCRTests {
    @Suite("The engine pool")
    struct EnginePoolTests {
        @Test("Eight recognitions in parallel on two engines all give the same text")
        func parallelRecognitions() async throws {
            let image = try Fixtures.bytes("mixed_lowres.png")
            let texts = try await withPool(OCRConfiguration(engineCount: 2)) { pool in
                try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<8 {
                        group.addTask { try await pool.recognize(imageBytes: image).text }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(texts.count == 8)
            #expect(Set(texts).count == 1)
            #expect(texts.first.map(containsCyrillic) == true)
        }

        @Test("OCR threads run at OCR_NICE; the rest of the process keeps its priority")
        func ocrThreadsYieldTheCores() async throws {
            func niceValues() throws -> [Int] {
                try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { thread in
                    // A thread may end between the listing and the read.
                    guard let stat = try? String(contentsOfFile: "/proc/self/task/\(thread)/stat", encoding: .utf8) else { return nil }
                    // After the command name in parentheses: state is field 3, nice field 19.
                    let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
                    return Int(fields[16])
                }
            }
            let before = try niceValues()
            #expect(!before.contains(7))
            try await withPool(OCRConfiguration(engineCount: 2, threadNiceness: 7)) { pool in
                _ = try await pool.recognize(imageBytes: Fixtures.bytes("mixed_lowres.png"))
                let after = try niceValues()
                #expect(after.contains(7), "no thread at nice 7 among \(after)")
                // Only the pool's two threads can have been lowered.
                #expect(after.count { $0 == 7 } <= 2)
            }
            let main = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
            #expect(main.split(separator: ")").last?.split(separator: " ")[16] == "0", "the process itself keeps nice 0")
        }

        @Test("Missing language data fails at start-up with the language's name")
        func missingLanguage() {
            let error = #expect(throws: OCRError.self) {
                try OCREnginePool(configuration: OCRConfiguration(languages: "eng+zzz", engineCount: 1))
            }
            #expect(error?.kind == .engineUnavailable)
            #expect(error?.message.contains("zzz") == true)
        }

        @Test("A pool that was shut down refuses work, and can be shut down twice")
        func shutdown() async throws {
            let pool = try OCREnginePool(configuration: OCRConfiguration(engineCount: 1))
            await pool.shutdown()
            await pool.shutdown()
            let error = await #expect(throws: OCRError.self) {
                try await pool.recognize(imageBytes: Fixtures.bytes("mixed_lowres.png"))
            }
            #expect(error?.kind == .engineUnavailable)
            #expect(error?.isPermanent == false)
        }

        @Test("Shutdown lets in-flight work finish and fails queued requests")
        func shutdownDrains() async throws {
            let pool = try OCREnginePool(configuration: OCRConfiguration(engineCount: 1))
            let image = try Fixtures.bytes("noisy_skewed.png")
            let results = await withTaskGroup(of: Result<String, OCRError>.self) { group in
                for _ in 0..<4 {
                    group.addTask { () async -> Result<String, OCRError> in
                        do throws(OCRError) { return .success(try await pool.recognize(imageBytes: image).text) }
                        catch { return .failure(error) }
                    }
                }
                try? await Task.sleep(for: .milliseconds(20))
                await pool.shutdown()
                return await group.reduce(into: []) { $0.append($1) }
            }
            let texts = results.compactMap { try? $0.get() }
            let errors = results.compactMap { result -> OCRError? in
                if case .failure(let error) = result { return error }
                return nil
            }
            #expect(!texts.isEmpty, "the request holding the engine finishes")
            #expect(texts.allSatisfy { $0.contains("quick brown fox") })
            #expect(!errors.isEmpty, "queued requests are refused")
            #expect(errors.allSatisfy { $0.kind == .engineUnavailable })
        }
    }
}
