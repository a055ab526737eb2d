# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options shared by every module that talks to a database."""

    DOCUMENTATION = r"""
options:
  engine:
    description:
      - Database engine of the target server.
      - V(mysql) covers MySQL, MariaDB and Amazon RDS/Aurora MySQL.
      - Falls back to the E(DBOPS_DB_ENGINE) environment variable on the managed host.
    type: str
    required: true
    choices: [postgres, mysql]
  login_host:
    description:
      - Host name or address of the server.
      - Falls back to E(DBOPS_DB_HOST).
    type: str
    default: localhost
  login_port:
    description:
      - TCP port of the server. Defaults to V(5432) for PostgreSQL and V(3306) for MySQL.
      - Falls back to E(DBOPS_DB_PORT).
    type: int
  login_user:
    description:
      - User to log in as. Falls back to E(DBOPS_DB_USER), then to the driver's default.
    type: str
  login_password:
    description:
      - Password of O(login_user). Never logged, never part of a message or report.
      - Falls back to E(DBOPS_DB_PASSWORD). Keep it in ansible-vault.
    type: str
  login_db:
    description:
      - Database (PostgreSQL) or schema (MySQL) to connect to; checks and migrations work there.
      - Falls back to E(DBOPS_DB_NAME). PostgreSQL defaults to V(postgres).
    type: str
  login_unix_socket:
    description:
      - Unix socket to use instead of O(login_host) and O(login_port).
      - For PostgreSQL the directory holding the socket, for MySQL the socket file.
      - Falls back to E(DBOPS_DB_SOCKET).
    type: path
  ssl_mode:
    description:
      - TLS policy, with libpq's names for both engines.
      - V(verify-ca) checks the server certificate against O(ca_cert); V(verify-full) also checks the host name.
      - For MySQL, V(prefer) without O(ca_cert) means the driver's default (no TLS).
    type: str
    default: prefer
    choices: [disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - CA bundle that signs the server certificate (for example the RDS global bundle).
    type: path
    aliases: [ssl_rootcert]
  client_cert:
    description:
      - Client certificate for mutual TLS.
    type: path
    aliases: [ssl_cert]
  client_key:
    description:
      - Private key of O(client_cert).
    type: path
    aliases: [ssl_key]
  connect_timeout:
    description:
      - Seconds to wait for the server to accept the connection.
    type: int
    default: 10
requirements:
  - psycopg >= 3.1 (PostgreSQL) or PyMySQL >= 1.1 (MySQL/MariaDB), on the host that runs the module.
notes:
  - The connection options can be set once for a play with the C(group/dbops.runbooks.database)
    action group in C(module_defaults).
  - A failed connection names the engine, host, port, user and the server's reason, never the password.
"""
