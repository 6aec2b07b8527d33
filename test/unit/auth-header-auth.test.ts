import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityHeader, isHeaderAuth } from '../../src/auth/header-auth.js';
import { SCHEMA } from '../../src/config/schema.js';

describe('header authentication types', () => {
  it('names the header of each type with which a proxy logs users in, and no other', () => {
    const choices = SCHEMA.auth.type.choices ?? [];
    assert.deepEqual(choices.filter(isHeaderAuth), ['remote_user', 'http_remote_user', 'http_x_remote_user']);
    assert.equal(identityHeader('http_x_remote_user'), 'X-Remote-User');
    assert.equal(identityHeader('http_remote_user'), 'Remote-User');
    assert.equal(identityHeader('remote_user'), 'Remote-User');
    assert.equal(identityHeader('htpasswd'), undefined);
  });
});
