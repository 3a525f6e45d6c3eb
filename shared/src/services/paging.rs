//! Walking a paged customer listing (`CustomerStore::customers_page`,
//! `awaiting_notice`): each page starts after the last record of the one
//! before, and a page shorter than the limit is the last, so the walk ends
//! without asking for an empty page.

use crate::domain::{CampaignId, CustomerId, CustomerRecord};
use crate::ports::{CustomerStore, PortResult};

pub(crate) struct Pages {
    limit: usize,
    after: Option<CustomerId>,
    done: bool,
}

impl Pages {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            after: None,
            done: false,
        }
    }

    /// Where the next page starts (`Some(None)`: at the beginning), or
    /// `None` once the listing is over.
    pub(crate) fn start(&self) -> Option<Option<&CustomerId>> {
        (!self.done).then_some(self.after.as_ref())
    }

    /// The campaign's next page of customers (`customers_page`), or
    /// `None` once the listing is over.
    pub(crate) async fn next(
        &mut self,
        store: &dyn CustomerStore,
        campaign: &CampaignId,
    ) -> PortResult<Option<Vec<CustomerRecord>>> {
        let after = match self.start() {
            None => return Ok(None),
            Some(after) => after.cloned(),
        };
        let page = store
            .customers_page(campaign, after.as_ref(), self.limit)
            .await?;
        Ok(self.took(&page).then_some(page))
    }

    /// Takes note of a fetched page; `false` when it is empty.
    pub(crate) fn took(&mut self, page: &[CustomerRecord]) -> bool {
        self.done = page.len() < self.limit;
        match page.last() {
            Some(last) => {
                self.after = Some(last.id.clone());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str]) -> Vec<CustomerRecord> {
        ids.iter()
            .map(|id| {
                let c = crate::domain::Customer::new(
                    CustomerId::parse(id).unwrap(),
                    crate::domain::ids::DisplayName::parse("N").unwrap(),
                    crate::domain::EmailAddress::parse("n@example.com").unwrap(),
                );
                CustomerRecord::new(c, chrono_tz::UTC)
            })
            .collect()
    }

    #[test]
    fn a_short_page_is_the_last() {
        let mut pages = Pages::new(2);
        assert_eq!(pages.start(), Some(None));
        assert!(pages.took(&page(&["a", "b"])));
        assert_eq!(pages.start().unwrap().unwrap().as_str(), "b");
        assert!(pages.took(&page(&["c"])));
        assert_eq!(pages.start(), None);
    }

    #[test]
    fn an_empty_page_ends_the_walk() {
        let mut pages = Pages::new(2);
        assert!(pages.took(&page(&["a", "b"])));
        assert!(!pages.took(&[]));
        assert_eq!(pages.start(), None);
    }
}
