/**
 * The rights contract: Radicale's permission letters for a user on a path.
 *
 * Letters: R/r read plain collections / calendars and address books with their items; W/w write;
 * i = only GET of the whole calendar or address book; D/d allow/deny deleting a collection (overrides
 * permit_delete_collection); O/o allow/deny overwriting a whole collection.
 */
export interface Rights {
  /**
   * Permission letters of `user` ('' = anonymous) with `groups` on `path` (a collection path without
   * leading/trailing slash: '' root, 'alice', 'alice/work').
   */
  authorization(user: string, groups: ReadonlySet<string>, path: string): string;
  /** Whether deleting the collection at `path` is allowed (permit_delete_collection with D/d). */
  mayDeleteCollection(user: string, groups: ReadonlySet<string>, path: string): boolean;
  /** Whether overwriting the whole collection at `path` is allowed (permit_overwrite_collection with O/o). */
  mayOverwriteCollection(user: string, groups: ReadonlySet<string>, path: string): boolean;
}
