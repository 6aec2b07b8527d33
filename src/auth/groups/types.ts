/** [group]: where the groups of a logged-in user come from. Groups travel with the request, never stored. */
export interface GroupSource {
  /** Groups of `user`; `fromAuth` are those the auth backend found (ldap, pam). */
  groupsOf(user: string, fromAuth: readonly string[]): Promise<ReadonlySet<string>>;
}
