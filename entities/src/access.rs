//! Who may see and change what in the directory. Every path asks these rules — the JSON API, the web app,
//! search hits, the HSDS export and webhooks — so that they cannot drift apart.
//!
//! - A place (location) may be used by services of several organizations. Its `organization_id`, when set,
//!   names the owner: the organization whose partners may edit the place itself. A place without owner is
//!   edited by admins only.
//! - A partner writes its own organization's records (the organization, its services) wherever its services
//!   are, and may link them to any active place that is not confidential, and to its own places.
//! - Where a confidential place is (address, coordinates) is seen by admins, caseworkers and the partners of
//!   its owner; everyone else sees only that it exists.

use uuid::Uuid;

use crate::directory::{LocationData, RecordStatus, Role};
use crate::error::{Error, Result};

/// Who is asking, as the directory's rules need it: a role (None for anonymous callers) and, for partners,
/// their organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub role: Option<Role>,
    pub organization_id: Option<Uuid>,
}

impl Actor {
    pub const ANONYMOUS: Actor = Actor {
        role: None,
        organization_id: None,
    };

    pub const ADMIN: Actor = Actor {
        role: Some(Role::Admin),
        organization_id: None,
    };

    pub fn new(role: Option<Role>, organization_id: Option<Uuid>) -> Self {
        Self { role, organization_id }
    }

    fn is(self, role: Role) -> bool {
        self.role == Some(role)
    }

    /// A partner of `organization_id` (never of "no organization").
    fn partner_of(self, organization_id: Option<Uuid>) -> bool {
        self.is(Role::Partner) && organization_id.is_some() && self.organization_id == organization_id
    }

    /// May this caller know where every confidential place is? Search uses this to decide whether such places
    /// count for radius and distance; partners know only their own, so they get the public view there.
    pub fn sees_all_confidential(self) -> bool {
        matches!(self.role, Some(Role::Admin | Role::Caseworker))
    }

    /// The one rule on where a place is: may this caller see the address and coordinates of a place that is
    /// `confidential` (or not) and owned by `owner`? Yes when it is not confidential, when the caller is an
    /// admin or caseworker, or when the caller is a partner of the owning organization.
    pub fn sees_place(self, confidential: bool, owner: Option<Uuid>) -> bool {
        !confidential || self.sees_all_confidential() || self.partner_of(owner)
    }

    /// Writes to an organization's own records (the organization and its services): admins anywhere, a
    /// partner inside its own organization.
    pub fn may_write_for(self, organization_id: Uuid) -> Result<()> {
        if self.is(Role::Admin) || self.partner_of(Some(organization_id)) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "a partner key may change only its own organization's records".into(),
            ))
        }
    }

    /// Editing or deactivating a place: admins, or partners of its owner. A place without owner is the
    /// admins' alone; the services of other organizations at it do not make it theirs.
    pub fn may_edit_place(self, owner: Option<Uuid>) -> Result<()> {
        if self.is(Role::Admin) || self.partner_of(owner) {
            Ok(())
        } else if owner.is_none() {
            Err(Error::Forbidden(
                "this place has no owner organization: only an admin may change it".into(),
            ))
        } else {
            Err(Error::Forbidden(
                "a partner may change only its own organization's places; its services may still be there".into(),
            ))
        }
    }

    /// The owner a place gets when this caller writes it without naming one: a partner's own organization,
    /// none for an admin (a place several organizations share).
    pub fn default_owner(self, requested: Option<Uuid>) -> Option<Uuid> {
        match requested {
            Some(owner) => Some(owner),
            None if self.is(Role::Partner) => self.organization_id,
            None => None,
        }
    }

    /// May this caller newly link a service to `place` (`id`)? Admins any place; partners any active place
    /// that is not confidential, and their own places (confidential or not). Links a service already has are
    /// not asked about: a partner edits its own services wherever they are.
    pub fn may_link(self, id: Uuid, place: &LocationData) -> Result<()> {
        let public = place.status == RecordStatus::Active && !place.confidential;
        if self.is(Role::Admin) || public || self.partner_of(place.organization_id) {
            Ok(())
        } else if place.confidential {
            Err(Error::Forbidden(format!(
                "location {id} is another organization's confidential place: only its own partners may link \
                 services to it"
            )))
        } else {
            Err(Error::Forbidden(format!(
                "location {id} is inactive: only its owner may link services to it"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(owner: Option<Uuid>, confidential: bool, status: RecordStatus) -> LocationData {
        LocationData {
            organization_id: owner,
            name: "Beboerhuset".into(),
            latitude: None,
            longitude: None,
            address: None,
            confidential,
            status,
        }
    }

    #[test]
    fn who_sees_a_confidential_place() {
        let owner = Uuid::new_v4();
        let other = Uuid::new_v4();
        let partner = |org| Actor::new(Some(Role::Partner), Some(org));
        for role in [Role::Admin, Role::Caseworker] {
            assert!(Actor::new(Some(role), None).sees_place(true, Some(owner)));
            assert!(Actor::new(Some(role), None).sees_place(true, None));
        }
        assert!(partner(owner).sees_place(true, Some(owner)));
        assert!(!partner(other).sees_place(true, Some(owner)));
        assert!(!partner(owner).sees_place(true, None), "no owner: no partner's place");
        assert!(!Actor::new(Some(Role::Partner), None).sees_place(true, None));
        assert!(!Actor::new(Some(Role::Reader), None).sees_place(true, Some(owner)));
        assert!(!Actor::ANONYMOUS.sees_place(true, Some(owner)));
        assert!(Actor::ANONYMOUS.sees_place(false, None));
    }

    #[test]
    fn who_edits_and_links_a_place() {
        let owner = Uuid::new_v4();
        let other = Uuid::new_v4();
        let partner = |org| Actor::new(Some(Role::Partner), Some(org));
        assert!(partner(owner).may_edit_place(Some(owner)).is_ok());
        assert!(partner(other).may_edit_place(Some(owner)).is_err());
        assert!(partner(owner).may_edit_place(None).is_err());
        assert!(Actor::ADMIN.may_edit_place(None).is_ok());
        assert!(Actor::new(Some(Role::Caseworker), None).may_edit_place(None).is_err());

        let id = Uuid::new_v4();
        let shared = place(None, false, RecordStatus::Active);
        let shelter = place(Some(owner), true, RecordStatus::Active);
        let closed = place(Some(owner), false, RecordStatus::Inactive);
        assert!(partner(other).may_link(id, &shared).is_ok());
        assert!(partner(other).may_link(id, &shelter).is_err());
        assert!(partner(owner).may_link(id, &shelter).is_ok());
        assert!(partner(other).may_link(id, &closed).is_err());
        assert!(partner(owner).may_link(id, &closed).is_ok());
        assert!(Actor::ADMIN.may_link(id, &shelter).is_ok());

        assert_eq!(partner(owner).default_owner(None), Some(owner));
        assert_eq!(partner(owner).default_owner(Some(other)), Some(other));
        assert_eq!(Actor::ADMIN.default_owner(None), None);
    }
}
