import Foundation
import Logging
import NIOCore
import SwitchboardHistory
import SwitchboardHistoryPostgres

/// The history `settings.db` names: a PostgreSQL URL, or else a SQLite file's path; and where
/// its session spool goes. A start that cannot have it stops with what is wrong, never a password.
func openHistory(
    _ settings: Settings, environment: [String: String], group: any EventLoopGroup, logger: Logger
) async throws -> (store: any HistoryStore, spool: String?) {
    if let problem = InstanceName.problem(settings.instance) { throw StartFailure("--instance: \(problem)") }
    guard PostgresURL.isURL(settings.db) else {
        do {
            let store = try HistoryDatabase(path: settings.db, instance: settings.instance)
            return (store, settings.spool ?? SessionSpool.path(besideDatabase: settings.db))
        } catch let held as StoreHeld {
            throw StartFailure(held.description)
        } catch {
            throw StartFailure("cannot open the history file \(settings.db): \(error)")
        }
    }
    let url: PostgresURL
    do {
        url = try PostgresURL(parsing: settings.db)
    } catch {
        throw StartFailure("--db: \(error)")
    }
    let password = try url.password ?? settings.dbPasswordFile.map(readPassword) ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    do {
        let store = try await PostgresHistory.open(url, password: password, instance: settings.instance, group: group, logger: logger)
        return (store, settings.spool ?? "./switchboard-\(settings.instance).spool")
    } catch let held as StoreHeld {
        throw StartFailure(held.description)
    } catch {
        throw StartFailure("cannot use the PostgreSQL history \(url): \(error)")
    }
}

/// The first line of `--db-password-file`, as libpq's password files hold one.
private func readPassword(_ path: String) throws -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw StartFailure("--db-password-file: cannot read \(path)")
    }
    let password = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    guard !password.isEmpty else { throw StartFailure("--db-password-file: \(path) holds no password") }
    return password
}
