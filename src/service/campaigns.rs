//! Campaigns: listed by id, changed (and the ledger told), and their generation jobs read.
//! Creation goes through [`super::idempotency`] (its answer is replayed for the same key).

use super::{ServiceError, Services};
use crate::{
    domain::campaign::Campaign,
    store::{
        campaigns::{self, CampaignPatch},
        jobs::{self, JobRow},
        StoreError,
    },
};

impl Services {
    /// Up to `limit` campaigns after the id `after`, by id.
    pub async fn list_campaigns(
        &self,
        after: Option<i32>,
        limit: i64,
    ) -> Result<Vec<Campaign>, ServiceError> {
        Ok(self.db.run(move |c| campaigns::list(c, after, limit)).await?)
    }

    /// Applies a change and tells the ledger and the checkout's cache about it.
    pub async fn patch_campaign(&self, id: i32, change: CampaignPatch) -> Result<Campaign, ServiceError> {
        let campaign = self.db.run(move |c| campaigns::patch(c, id, &change)).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::NotFound("campaign"),
            other => other.into(),
        })?;
        self.campaign_changed(id).await;
        Ok(campaign)
    }

    /// A generation job's progress.
    pub async fn generation_job(&self, id: String) -> Result<JobRow, ServiceError> {
        self.db.run(move |c| jobs::get(c, &id)).await?.ok_or(ServiceError::NotFound("generation job"))
    }
}
