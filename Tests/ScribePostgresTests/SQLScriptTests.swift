import Testing

@testable import ScribePostgres

@Suite struct SQLScriptTests {
    @Test func splitsOnSemicolonsOutsideQuotesAndComments() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'a;b');
            /* block; comment */ CREATE TABLE "we;ird" (y int);
            CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
            CREATE FUNCTION g() RETURNS int AS $body$ SELECT 2; $body$ LANGUAGE sql;
            -- trailing comment only
            """
        let statements = SQLScript.statements(in: sql)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("CREATE TABLE a (x text DEFAULT 'a;b')"))
        #expect(statements[1] == "/* block; comment */ CREATE TABLE \"we;ird\" (y int)")
        #expect(statements[2] == "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql")
        #expect(statements[3] == "CREATE FUNCTION g() RETURNS int AS $body$ SELECT 2; $body$ LANGUAGE sql")
    }

    @Test func positionalParametersAreNotDollarQuotes() {
        let statements = SQLScript.statements(in: "SELECT $1; SELECT $2")
        #expect(statements == ["SELECT $1", "SELECT $2"])
    }
}
