import Testing

@testable import ScribePostgres

@Suite struct DatabaseURLTests {
    @Test func parsesAFullURLAndHidesThePassword() throws {
        let url = try DatabaseURL("postgres://scribe:s%40cret@db.example:6543/chat?sslmode=disable")
        #expect(url.configuration.host == "db.example")
        #expect(url.configuration.port == 6543)
        #expect(url.configuration.username == "scribe")
        #expect(url.configuration.password == "s@cret")
        #expect(url.configuration.database == "chat")
        #expect(!url.description.contains("cret"))
    }

    @Test func defaultsPortAndUser() throws {
        let url = try DatabaseURL("postgresql://localhost/scribe")
        #expect(url.configuration.port == 5432)
        #expect(url.configuration.username == "postgres")
    }

    @Test(arguments: ["mysql://x@y/z", "not a url", "postgres://h/db?sslmode=sometimes"])
    func rejectsWhatIsNotAPostgresURL(_ text: String) {
        #expect(throws: DatabaseError.self) { try DatabaseURL(text) }
    }
}
