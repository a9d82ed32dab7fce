//! The fleet's shared hour and day quota windows: one `quota_ledger` row per
//! carrier, holding every instance's reservations, changed under the row's lock
//! on the database clock (instances' clocks never matter).

use super::{Ctx, PostgresStore};
use crate::quota::gate::SharedLedgerStore;
use crate::quota::{Reservation, ReserveRequest, SavedLedger, reserve_shared};
use crate::store::StoreError;

#[async_trait::async_trait]
impl SharedLedgerStore for PostgresStore {
    async fn reserve(
        &self,
        carrier: &'static str,
        req: ReserveRequest,
    ) -> Result<Reservation, StoreError> {
        let mut c = self.reader().await?;
        let tx = c.transaction().await.ctx("starting a quota reservation")?;
        tx.execute(
            "INSERT INTO quota_ledger (carrier, saved_at, json)
             VALUES ($1, 0, '{\"saved_at\":0,\"reserved\":0,\"windows\":[]}')
             ON CONFLICT (carrier) DO NOTHING",
            &[&carrier],
        )
        .await
        .ctx("creating a quota ledger row")?;
        let row = tx
            .query_one(
                "SELECT json, extract(epoch FROM now())::int8 FROM quota_ledger
                 WHERE carrier = $1 FOR UPDATE",
                &[&carrier],
            )
            .await
            .ctx("locking a quota ledger row")?;
        let json: String = row.get(0);
        let now: i64 = row.get(1);
        let state: SavedLedger = serde_json::from_str(&json)
            // Unreadable usage must never read as a fresh window: refuse.
            .map_err(|e| StoreError::CorruptLedger(carrier.into(), e.to_string()))?;
        let (state, reservation) = reserve_shared(Some(&state), &req, now.max(0) as u64);
        let json = serde_json::to_string(&state)
            .map_err(|e| StoreError::CorruptLedger(carrier.into(), e.to_string()))?;
        tx.execute(
            "UPDATE quota_ledger SET saved_at = $2, json = $3 WHERE carrier = $1",
            &[&carrier, &now, &json],
        )
        .await
        .ctx("saving a quota reservation")?;
        tx.commit().await.ctx("committing a quota reservation")?;
        Ok(reservation)
    }
}
