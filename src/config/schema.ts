/**
 * The configuration schema: every section and option, with Radicale 3.7's names and defaults, in one
 * place. The INI loader, the command-line flags and `--help` are all generated from it.
 *
 * `support`: 'yes' = implemented; 'later' = accepted and reported as not yet supported at start-up
 * when set to a non-default value.
 */

export type OptionType = 'string' | 'int' | 'float' | 'bool' | 'list' | 'json' | 'octal' | 'path' | 'choice';

interface OptionBase {
  readonly type: OptionType;
  readonly default: string;
  readonly help: string;
  readonly support?: 'yes' | 'later';
  /** Allowed values for 'choice' (a value outside them is an error unless `plugin` is true). */
  readonly choices?: readonly string[];
  /** 'choice' that may also name a plugin module path. */
  readonly plugin?: boolean;
  /** Short command-line aliases, as Radicale's (`-H`, `-s`...). */
  readonly aliases?: readonly string[];
  /** Command-line aliases that set a 'bool' option to False, as Radicale's (`-S`, `--no-ssl`). */
  readonly oppositeAliases?: readonly string[];
}

export type OptionSpec = OptionBase;

const option = <T extends OptionType>(
  type: T,
  def: string,
  help: string,
  extra: Partial<OptionBase> = {},
): OptionSpec & { readonly type: T } => ({
  ...extra,
  type,
  default: def,
  help,
  support: extra.support ?? 'yes',
});
const later = <T extends OptionType>(
  type: T,
  def: string,
  help: string,
  extra: Partial<OptionBase> = {},
): OptionSpec & { readonly type: T } => option(type, def, help, { ...extra, support: 'later' });

const LOG_LEVELS = ['trace', 'debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert'] as const;
const VALIDATE = ['none', 'minimal', 'unicode-letter', 'no-unicode', 'strict'] as const;

export const SCHEMA = {
  server: {
    hosts: option(
      'list',
      'localhost:5232',
      'Comma-separated list of host:port to listen on ([::1]:5232 for IPv6)',
      {
        aliases: ['-H', '--hosts'],
      },
    ),
    max_connections: option('int', '8', 'Maximum number of requests processed at once (0 = unlimited)'),
    max_content_length: option('int', '100000000', 'Maximum size of a request body in bytes'),
    max_resource_size: option(
      'int',
      '10000000',
      'Maximum size of one item in bytes (at most 80% of max_content_length)',
    ),
    max_vevent_rrule_occurrence: option(
      'int',
      '10000',
      'Reject events whose recurrence yields more occurrences',
    ),
    delay_on_error: option('float', '1', 'Delay in seconds before answering a server error'),
    timeout: option('float', '30', 'Socket timeout in seconds'),
    keepalive_timeout: option(
      'float',
      '30',
      'Seconds an idle keep-alive connection stays open; 0 = close after each response (Almanac)',
    ),
    body_min_rate: option(
      'int',
      '500',
      'Bytes per second a request body must average after the first `timeout` seconds, else 408; 0 = no minimum (Almanac)',
    ),
    ssl: option('bool', 'False', 'Use TLS', {
      aliases: ['-s', '--ssl'],
      oppositeAliases: ['-S', '--no-ssl'],
    }),
    certificate: option('path', '/etc/ssl/radicale.cert.pem', 'TLS certificate (PEM)', {
      aliases: ['-c', '--certificate'],
    }),
    key: option('path', '/etc/ssl/radicale.key.pem', 'TLS private key (PEM)', { aliases: ['-k', '--key'] }),
    certificate_authority: option(
      'path',
      '',
      'CA for client certificates; when set, a client certificate is required',
      {
        aliases: ['--certificate-authority'],
      },
    ),
    protocol: option(
      'string',
      '',
      'TLS protocols, Apache SSLProtocol syntax (e.g. ALL -SSLv3 -TLSv1 -TLSv1.1)',
    ),
    ciphersuite: option('string', '', 'TLS cipher suite, OpenSSL syntax'),
    script_name: option('string', '', 'Path prefix when behind a reverse proxy that does not strip it'),
    validate_user_value: option('choice', 'minimal', 'Character policy for user names', {
      choices: VALIDATE,
    }),
    validate_path_value: option('choice', 'minimal', 'Character policy for request paths', {
      choices: VALIDATE,
    }),
    trusted_proxies: option(
      'list',
      '127.0.0.1/8, ::1',
      'Addresses and CIDRs of reverse proxies whose identity and forwarding headers are trusted (Almanac; ' +
        'with header authentication the default is none)',
    ),
    client_address_header: option(
      'string',
      'X-Forwarded-For',
      'Header the trusted proxy sets to the client address; only its last hop is used, empty = none (Almanac)',
    ),
  },
  encoding: {
    request: option('string', 'utf-8', 'Encoding for responses and request bodies'),
    stock: option('string', 'utf-8', 'Encoding of stored items'),
  },
  auth: {
    type: option('choice', 'denyall', 'Authentication method', {
      plugin: true,
      choices: [
        'none',
        'denyall',
        'htpasswd',
        'remote_user',
        'http_remote_user',
        'http_x_remote_user',
        'ldap',
        'dovecot',
        'imap',
        'oauth2',
        'pam',
      ],
    }),
    delay: option('float', '1', 'Average delay after a failed login in seconds'),
    realm: option('string', 'Radicale - Password Required', 'Message shown in the login prompt'),
    cache_logins: option('bool', 'False', 'Cache login results'),
    cache_successful_logins_expiry: option('int', '15', 'Seconds a successful login stays cached'),
    cache_failed_logins_expiry: option('int', '90', 'Seconds a failed login stays cached'),
    htpasswd_filename: option('path', '/etc/radicale/users', 'htpasswd file'),
    htpasswd_encryption: option('choice', 'autodetect', 'htpasswd password encryption', {
      choices: ['plain', 'md5', 'sha256', 'sha512', 'bcrypt', 'argon2', 'autodetect'],
    }),
    htpasswd_cache: option('bool', 'False', 'Keep the htpasswd file in memory, re-read when it changes'),
    dovecot_connection_type: option('choice', 'AF_UNIX', 'Dovecot connection type', {
      choices: ['AF_UNIX', 'AF_INET', 'AF_INET6'],
    }),
    dovecot_socket: option('path', '/var/run/dovecot/auth-client', 'Dovecot auth socket'),
    dovecot_host: option('string', 'localhost', 'Dovecot host'),
    dovecot_port: option('int', '12345', 'Dovecot port'),
    remote_ip_source: option(
      'choice',
      'REMOTE_ADDR',
      'Where the client address for auth backends comes from',
      {
        choices: ['REMOTE_ADDR', 'X-Remote-Addr'],
      },
    ),
    ldap_uri: option('string', 'ldap://localhost', 'LDAP server URI'),
    ldap_base: option('string', '', 'LDAP search base'),
    ldap_reader_dn: option('string', '', 'DN of the LDAP reader'),
    ldap_secret: option('string', '', 'Password of the LDAP reader'),
    ldap_secret_file: option('path', '', 'File with the password of the LDAP reader'),
    ldap_filter: option('string', '(cn={0})', 'LDAP filter; {0} is the login'),
    ldap_user_attribute: option('string', '', 'Attribute whose value becomes the user name'),
    ldap_security: option('choice', 'none', 'LDAP transport security', {
      choices: ['none', 'tls', 'starttls'],
    }),
    ldap_ssl_verify_mode: option('choice', 'REQUIRED', 'LDAP certificate check', {
      choices: ['NONE', 'OPTIONAL', 'REQUIRED'],
    }),
    ldap_ssl_ca_file: option('path', '', 'CA file for LDAP'),
    ldap_groups_attribute: option('string', '', 'Attribute listing the groups of a user (e.g. memberOf)'),
    ldap_group_members_attribute: option('string', '', 'Attribute of a group listing its members'),
    ldap_group_base: option('string', '', 'Search base for groups'),
    ldap_group_filter: option('string', '', 'Filter for groups'),
    // Radicale's ldap3 checks the syntax of createTimestamp/modifyTimestamp, which Authentik writes in a
    // form ldap3 refuses; Almanac's LDAP client reads only the attributes it asks for and checks no
    // syntax, so those values never stop a login: accepted, nothing to switch.
    ldap_ignore_attribute_create_modify_timestamp: option(
      'bool',
      'False',
      'Ignore createTimestamp/modifyTimestamp (no effect: never checked)',
    ),
    imap_host: option('string', 'localhost', 'IMAP server (host, host:port, [v6]:port)'),
    imap_security: option('choice', 'tls', 'IMAP transport security', {
      choices: ['tls', 'starttls', 'none'],
    }),
    imap_append_domain: option('string', '', 'Domain appended to the login for IMAP'),
    oauth2_token_endpoint: option('string', '', 'OAuth2 token endpoint (password grant)'),
    oauth2_client_id: option('string', 'radicale', 'OAuth2 client id'),
    oauth2_client_secret: option('string', '', 'OAuth2 client secret'),
    pam_service: option('string', 'radicale', 'PAM service'),
    pam_group_membership: option('string', '', 'Required group for PAM users'),
    lc_username: option('bool', 'False', 'Convert user names to lowercase'),
    uc_username: option('bool', 'False', 'Convert user names to uppercase'),
    strip_domain: option('bool', 'False', 'Strip the domain from user names'),
    urldecode_username: option('bool', 'False', 'Percent-decode user names'),
  },
  group: {
    type: option('choice', 'none', 'Group backend', {
      plugin: true,
      choices: ['none', 'htgroup', 'from_auth'],
    }),
    htgroup_filename: option('path', '/etc/radicale/groups', 'Apache group file'),
    htgroup_cache: option('bool', 'False', 'Keep the group file in memory'),
  },
  rights: {
    type: option('choice', 'owner_only', 'Rights backend', {
      plugin: true,
      choices: ['authenticated', 'owner_only', 'owner_write', 'from_file'],
    }),
    file: option('path', '/etc/radicale/rights', 'Rights file for from_file'),
    permit_delete_collection: option('bool', 'True', 'Allow deleting collections'),
    permit_overwrite_collection: option('bool', 'True', 'Allow overwriting whole collections'),
  },
  storage: {
    type: option('choice', 'multifilesystem', 'Storage backend', {
      plugin: true,
      choices: ['multifilesystem', 'multifilesystem_nolock', 'postgresql'],
    }),
    postgresql_url: option(
      'string',
      '',
      'PostgreSQL connection URL (postgresql://…); empty = the PG* environment variables',
    ),
    postgresql_pool_size: option('int', '10', 'PostgreSQL connections per instance'),
    filesystem_folder: option('path', '/var/lib/radicale/collections', 'Folder for collections'),
    filesystem_cache_folder: option(
      'path',
      '',
      'Folder for caches (when the cache subfolder options are on)',
    ),
    use_cache_subfolder_for_item: option('bool', 'False', "Keep Radicale's item cache in the cache folder"),
    use_cache_subfolder_for_history: option(
      'bool',
      'False',
      "Keep Radicale's sync history in the cache folder",
    ),
    use_cache_subfolder_for_synctoken: option(
      'bool',
      'False',
      "Keep Radicale's sync-token states in the cache folder",
    ),
    use_mtime_and_size_for_item_cache: option('bool', 'False', "Key Radicale's item cache by size and mtime"),
    folder_umask: option('octal', '', 'umask for created folders (e.g. 0077)'),
    max_sync_token_age: option('int', '2592000', 'Seconds before an unused sync token expires'),
    skip_broken_item: option('bool', 'True', 'Skip broken items instead of failing the request'),
    strict_preconditions: option('bool', 'False', 'PUT over an existing item requires If-Match'),
    plain_files: option(
      'bool',
      'False',
      'Store files other than calendar and address book data in plain collections, as a WebDAV server ' +
        'does (Almanac; Radicale cannot read a folder holding them: False refuses them with 400 as Radicale)',
    ),
    hook: option('string', '', 'Command run after each change'),
    predefined_collections: option('json', '', 'Collections created with a new principal (JSON)'),
    _filesystem_fsync: option('bool', 'True', 'fsync files and folders (private, for tests)'),
  },
  web: {
    type: option('choice', 'internal', 'Web interface', { plugin: true, choices: ['none', 'internal'] }),
    prefer_browser_login: option('bool', 'False', 'Use the browser login prompt instead of the form'),
  },
  logging: {
    level: option('choice', 'info', 'Log level', { choices: LOG_LEVELS }),
    limit_content: option('int', '3000', 'Maximum characters of content logged'),
    trace_filter: later('string', '', 'Filter for trace logging'),
    mask_passwords: option('bool', 'True', 'Do not log passwords'),
    bad_put_request_content: option('bool', 'False', 'Log the content of bad PUT requests'),
    backtrace_on_debug: option('bool', 'False', 'Log backtraces on debug'),
    request_header_on_debug: option('bool', 'False', 'Log request headers on debug'),
    request_content_on_debug: option('bool', 'False', 'Log request content on debug'),
    response_header_on_debug: option('bool', 'False', 'Log response headers on debug'),
    response_content_on_debug: option('bool', 'False', 'Log response content on debug'),
    rights_rule_doesnt_match_on_debug: option('bool', 'False', 'Log rights rules that do not match on debug'),
    storage_cache_actions_on_debug: option('bool', 'False', 'Log storage cache actions on debug'),
    request_header_on_notice_condition: option(
      'json',
      '{}',
      'Conditions to log request headers at notice level',
    ),
    request_content_on_notice_condition: option(
      'json',
      '{}',
      'Conditions to log request content at notice level',
    ),
    response_header_on_notice_condition: option(
      'json',
      '{}',
      'Conditions to log response headers at notice level',
    ),
    response_content_on_notice_condition: option(
      'json',
      '{}',
      'Conditions to log response content at notice level',
    ),
    profiling: later('choice', 'none', 'Profiling', {
      choices: ['none', 'per_request', 'per_request_method'],
    }),
    profiling_per_request_min_duration: later('int', '3', 'Minimum duration to profile'),
    profiling_per_request_header: later('bool', 'False', 'Log headers of profiled requests'),
    profiling_per_request_xml: later('bool', 'False', 'Log XML of profiled requests'),
    profiling_per_request_method_interval: later('int', '600', 'Interval of per-method profiling'),
    profiling_top_x_functions: later('int', '10', 'Functions listed per profile'),
  },
  headers: {},
  hook: {
    type: option('choice', 'none', 'Change notification hook', {
      plugin: true,
      choices: ['none', 'rabbitmq', 'email'],
    }),
    dryrun: option('bool', 'False', 'Do not send notifications, log them'),
    rabbitmq_endpoint: option('string', '', 'RabbitMQ endpoint (amqp://user:password@host:5672/)'),
    rabbitmq_topic: option('string', '', 'RabbitMQ queue (and routing key) the messages go to'),
    rabbitmq_queue_type: option(
      'string',
      'classic',
      'RabbitMQ queue type (x-queue-type; empty: the broker default)',
    ),
    smtp_server: option('string', '', 'SMTP server'),
    smtp_port: option('string', '', 'SMTP port (empty: the default port of smtp_security)'),
    smtp_security: option('choice', 'none', 'SMTP security', { choices: ['none', 'tls', 'starttls'] }),
    smtp_ssl_verify_mode: option('choice', 'REQUIRED', 'SMTP certificate check', {
      choices: ['NONE', 'OPTIONAL', 'REQUIRED'],
    }),
    smtp_username: option('string', '', 'SMTP user'),
    smtp_password: option('string', '', 'SMTP password'),
    from_email: option('string', '', 'Sender address (From, Reply-To, envelope sender)'),
    mass_email: option('bool', 'False', 'One mail to all attendees'),
    new_or_added_to_event_template: option(
      'string',
      'Hello $attendee_name,\n\nYou have been added as an attendee to the following calendar event.\n\n' +
        '    $event_title\n    $event_start_time - $event_end_time\n    $event_location\n\n' +
        'This is an automated message. Please do not reply.',
      'Mail body for new events and added attendees',
    ),
    deleted_or_removed_from_event_template: option(
      'string',
      'Hello $attendee_name,\n\nThe following event has been deleted.\n\n' +
        '    $event_title\n    $event_start_time - $event_end_time\n    $event_location\n\n' +
        'This is an automated message. Please do not reply.',
      'Mail body for deleted events and removed attendees',
    ),
    updated_event_template: option(
      'string',
      'Hello $attendee_name,\nThe following event has been updated.\n' +
        '    $event_title\n    $event_start_time - $event_end_time\n    $event_location\n\n' +
        'This is an automated message. Please do not reply.',
      'Mail body for updated events',
    ),
  },
  // Almanac only (Radicale has no such section): health check and Prometheus metrics, both off by default.
  monitoring: {
    health: option(
      'bool',
      'False',
      'Serve GET /.well-known/almanac/health: 200 when storage answers, else 503',
    ),
    metrics: option(
      'bool',
      'False',
      'Serve Prometheus metrics at /.well-known/almanac/metrics (needs a token)',
    ),
    metrics_token: option(
      'string',
      '',
      'Bearer token a metrics scraper must send (Authorization: Bearer ...)',
    ),
    metrics_token_file: option(
      'path',
      '',
      'File holding the metrics bearer token (instead of metrics_token)',
    ),
  },
  // Almanac only: WebDAV-Push (draft-bitfire-webdav-push) to phones, see docs/notifications.md.
  push: {
    enabled: option(
      'bool',
      'True',
      'WebDAV-Push: advertise it on collections and push changes to registered clients (nothing is ' +
        'sent until a client registers)',
    ),
    vapid_subject: option(
      'string',
      '',
      'VAPID contact (mailto: or https: URL); empty = mailto:almanac@<hostname>',
    ),
    max_expiry: option('int', '604800', 'Longest registration a client gets, in seconds (at least 3 days)'),
    max_subscriptions_per_user: option('int', '100', 'Registrations one user may hold'),
    max_subscriptions_per_collection: option('int', '50', 'Registrations one collection may have'),
    allow_http_endpoints: option(
      'bool',
      'False',
      'Accept push resources with http: URLs or on loopback/private addresses (tests, own push services)',
    ),
    coalesce_delay: option('float', '1', 'Seconds a push waits for more changes of the same collection'),
    retries: option('int', '5', 'Attempts after a failed push (with doubling backoff)'),
    _retry_delay: option('float', '5', 'Seconds before the first retry (private, for tests)'),
  },
  // Almanac only: CalDAV scheduling (RFC 6638) and iMIP (RFC 6047), off by default; see docs/scheduling.md.
  scheduling: {
    enabled: option(
      'bool',
      'False',
      'Serve CalDAV scheduling: invitations between users, free-busy, iMIP mail',
    ),
    email_domain: option('string', '', "Mail domain of the users: user 'alice' is mailto:alice@<domain>"),
    addresses: option(
      'list',
      '',
      'Mail addresses of users, as user:address pairs (alice:alice@example.org, ...)',
    ),
    default_calendar: option('string', 'calendar', 'Calendar created for invitations when a user has none'),
    smtp_server: option(
      'string',
      '',
      "SMTP server for iMIP mail (empty: [hook]'s smtp_* settings, all of them; none: no mail)",
    ),
    smtp_port: option('string', '', 'SMTP port (empty: the default port of smtp_security)'),
    smtp_security: option('choice', '', 'SMTP security (empty: none)', {
      choices: ['', 'none', 'tls', 'starttls'],
    }),
    smtp_ssl_verify_mode: option('choice', '', 'SMTP certificate check (empty: REQUIRED)', {
      choices: ['', 'NONE', 'OPTIONAL', 'REQUIRED'],
    }),
    smtp_username: option('string', '', 'SMTP user (a login only with user and password)'),
    smtp_password: option('string', '', 'SMTP password'),
    from_email: option(
      'string',
      '',
      "Envelope sender (MAIL FROM) and Sender of iMIP mail (empty: [hook]'s from_email)",
    ),
    max_mails_per_hour: option(
      'int',
      '60',
      'iMIP mails one login may cause in any hour; more get SCHEDULE-STATUS 5.3 (0 = no limit)',
    ),
    _mail_timeout: option(
      'float',
      '10',
      'Seconds a PUT or DELETE waits for the SMTP server per mail (private, for tests)',
    ),
  },
  reporting: {
    max_expand_occurrence: option('int', '10000', 'Maximum occurrences returned by calendar-data expand'),
    max_freebusy_occurrence: option('int', '10000', 'Maximum occurrences in a free-busy report'),
  },
  sharing: {
    type: option('choice', 'none', 'Sharing database', { plugin: true, choices: ['none', 'csv', 'files'] }),
    database_path: option('path', '', 'Sharing database path'),
    collection_by_token: option('bool', 'False', 'Allow token shares'),
    collection_by_map: option('bool', 'False', 'Allow map shares'),
    permit_create_token: option('bool', 'False', 'Users may create token shares'),
    permit_create_map: option('bool', 'False', 'Users may create map shares'),
    permit_properties_overlay: option('bool', 'False', 'Sharees may overlay properties'),
    enforce_properties_overlay: option('bool', 'True', 'PROPPATCH through a share goes to the overlay'),
    default_permissions_create_token: option('string', 'rp', 'Default permissions of token shares'),
    default_permissions_create_map: option('string', 'r', 'Default permissions of map shares'),
    // The "bday" conversion (Radicale 3.7.5): an address book shared as a calendar of birthdays. The
    // templates are checked at start-up (sharing/bday-template.ts); a share's Actions.config overrides them.
    conversion_bday_summary_template: option(
      'string',
      '[{n:f} {n:g}|{fn}|{nickname}] ({year}) (BDAY)',
      'Summary template of birthday events',
    ),
    conversion_bday_description_template: option(
      'string',
      'BDAY={year}-{month}-{day}',
      'Description template of birthday events (empty: no description)',
    ),
    conversion_bday_alarm_trigger_template: option(
      'string',
      '',
      'Alarms of birthday events: TRIGGER;DESCRIPTION entries joined by $ (TRIGGER like -1D, 2H, 30M)',
    ),
    conversion_bday_categories: option(
      'string',
      'Birthday',
      'Categories of birthday events (comma-separated)',
    ),
    conversion_bday_age_max: option('int', '99', 'Highest age shown in birthday events (0-199)'),
  },
} as const satisfies Record<string, Record<string, OptionSpec>>;

export type SectionName = keyof typeof SCHEMA;

type ValueOf<T extends OptionType> = T extends 'int' | 'float'
  ? number
  : T extends 'bool'
    ? boolean
    : T extends 'list'
      ? string[]
      : T extends 'json'
        ? unknown
        : T extends 'octal'
          ? number | undefined
          : string;

/** The typed configuration: `config.server.max_connections` is a number, etc. */
export type Config = {
  readonly [S in Exclude<SectionName, 'headers'>]: {
    readonly [K in keyof (typeof SCHEMA)[S]]: (typeof SCHEMA)[S][K] extends {
      type: infer T extends OptionType;
    }
      ? ValueOf<T>
      : never;
  };
} & {
  /** Free-form response headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** Plugin sections may carry extra options, kept as strings. */
  readonly extra: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Where each value came from (for messages): `section.option` → 'default' | file path | 'command line'. */
  readonly sources: Readonly<Record<string, string>>;
};
