from django.contrib import admin

from tongban.core.masking import mask

from .models import Citizen, Department, Enterprise, EnterpriseAgent, SmsMessage, StaffMember


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "division"]
    search_fields = ["name", "code"]
    raw_id_fields = ["division"]


@admin.register(Citizen)
class CitizenAdmin(admin.ModelAdmin):
    list_display = ["masked_name", "masked_id_number", "masked_phone"]
    exclude = ["id_number", "phone"]
    readonly_fields = ["user", "masked_name", "masked_id_number", "masked_phone"]

    @admin.display(description="姓名")
    def masked_name(self, obj: Citizen) -> str:
        return mask(obj.real_name, "name")

    @admin.display(description="身份证号码")
    def masked_id_number(self, obj: Citizen) -> str:
        return mask(obj.id_number, "id_number")

    @admin.display(description="手机号码")
    def masked_phone(self, obj: Citizen) -> str:
        return mask(obj.phone, "phone")


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ["name", "uscc"]
    search_fields = ["name", "uscc"]


admin.site.register(EnterpriseAgent)


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["real_name", "department", "scope", "roles"]
    raw_id_fields = ["user", "scope"]


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "masked_phone", "text"]

    @admin.display(description="手机号码")
    def masked_phone(self, obj: SmsMessage) -> str:
        return mask(obj.phone, "phone")
