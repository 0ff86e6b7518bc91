import PostgresNIO

extension PSQLError {
    /// True when the statement broke a unique constraint (SQLSTATE 23505).
    public var isUniqueViolation: Bool { serverInfo?[.sqlState] == "23505" }
    /// The constraint or index that was broken, if the server said.
    public var constraintName: String? { serverInfo?[.constraintName] }
}
